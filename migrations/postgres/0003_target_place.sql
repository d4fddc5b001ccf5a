-- The place of a target's collectivity (région, département, scale) kept on the target row itself, so the
-- targets list filters and sorts from one index instead of joining every collectivity of a région. These
-- values come from the INSEE referential and never change; a trigger copies them on insert, whatever code
-- path inserts the target. Same columns and index as migrations/sqlite/0003_target_place.sql.
ALTER TABLE targets ADD COLUMN region_code TEXT;
ALTER TABLE targets ADD COLUMN departement_code TEXT;
ALTER TABLE targets ADD COLUMN scale TEXT;
UPDATE targets t SET region_code = o.region_code, departement_code = o.departement_code, scale = o.scale
FROM organisations o WHERE o.id = t.organisation_id;
CREATE FUNCTION targets_copy_place() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT o.region_code, o.departement_code, o.scale INTO NEW.region_code, NEW.departement_code, NEW.scale
    FROM organisations o WHERE o.id = NEW.organisation_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER targets_copy_place BEFORE INSERT ON targets
    FOR EACH ROW EXECUTE FUNCTION targets_copy_place();
CREATE INDEX targets_stage_region_next ON targets (stage, region_code, next_action_date);
CREATE INDEX targets_region_next ON targets (region_code, next_action_date);
CREATE INDEX targets_departement_next ON targets (departement_code, next_action_date);
