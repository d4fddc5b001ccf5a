-- Indexes for the filters of the targets list (région, scale) and the stage columns of the board.
-- Same file in migrations/sqlite and migrations/postgres.
CREATE INDEX organisations_region ON organisations (region_code);
CREATE INDEX organisations_scale ON organisations (scale);
CREATE INDEX targets_stage_next ON targets (stage, next_action_date);
