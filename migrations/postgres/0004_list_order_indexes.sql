-- The list's "next action" order is `next_action_date NULLS LAST, id`. With the id at the end of these
-- indexes, PostgreSQL reads a filtered page in index order and stops after it, from the index alone
-- (SQLite already ends every index with the rowid).
-- Same file in migrations/sqlite and migrations/postgres.
DROP INDEX targets_stage_region_next;
DROP INDEX targets_region_next;
DROP INDEX targets_departement_next;
CREATE INDEX targets_stage_region_next ON targets (stage, region_code, next_action_date, id);
CREATE INDEX targets_region_next ON targets (region_code, next_action_date, id);
CREATE INDEX targets_departement_next ON targets (departement_code, next_action_date, id);
