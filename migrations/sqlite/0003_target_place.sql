-- The place of a target's collectivity (région, département, scale) kept on the target row itself, so the
-- targets list filters and sorts from one index instead of joining every collectivity of a région. These
-- values come from the INSEE referential and never change; a trigger copies them on insert, whatever code
-- path inserts the target. Same columns and index as migrations/postgres/0003_target_place.sql.
ALTER TABLE targets ADD COLUMN region_code TEXT;
ALTER TABLE targets ADD COLUMN departement_code TEXT;
ALTER TABLE targets ADD COLUMN scale TEXT;
UPDATE targets SET
    region_code = (SELECT o.region_code FROM organisations o WHERE o.id = targets.organisation_id),
    departement_code = (SELECT o.departement_code FROM organisations o WHERE o.id = targets.organisation_id),
    scale = (SELECT o.scale FROM organisations o WHERE o.id = targets.organisation_id);
CREATE TRIGGER targets_copy_place AFTER INSERT ON targets
BEGIN
    UPDATE targets SET
        region_code = (SELECT o.region_code FROM organisations o WHERE o.id = NEW.organisation_id),
        departement_code = (SELECT o.departement_code FROM organisations o WHERE o.id = NEW.organisation_id),
        scale = (SELECT o.scale FROM organisations o WHERE o.id = NEW.organisation_id)
    WHERE id = NEW.id;
END;
CREATE INDEX targets_stage_region_next ON targets (stage, region_code, next_action_date);
CREATE INDEX targets_region_next ON targets (region_code, next_action_date);
CREATE INDEX targets_departement_next ON targets (departement_code, next_action_date);
