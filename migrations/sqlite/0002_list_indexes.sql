-- Indexes for the targets list: its filters (région, scale, stage), its default order (name), and a covering
-- index that lets the count of a filtered list be answered from the index alone.
-- Same file in migrations/sqlite and migrations/postgres.
CREATE INDEX organisations_region ON organisations (region_code);
CREATE INDEX organisations_scale ON organisations (scale);
CREATE INDEX organisations_name ON organisations (name);
CREATE INDEX targets_organisation_stage ON targets (organisation_id, stage, next_action_date);
CREATE INDEX people_name ON people (full_name);
