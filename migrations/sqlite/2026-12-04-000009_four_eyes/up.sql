-- Four eyes over everyone who had a hand in a calibration (DESIGN section 9): its creator,
-- whoever changed it and whoever submitted it may not approve or reject it.
CREATE TABLE calibration_contributors (
    calibration_id BIGINT NOT NULL REFERENCES calibrations(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    PRIMARY KEY (calibration_id, user_id)
);
-- Who made the last change (NULL: the command line).
ALTER TABLE calibrations ADD COLUMN updated_by BIGINT REFERENCES users(id);

-- Existing work: the creator, and every user the audit log shows changing or submitting it.
INSERT INTO calibration_contributors (calibration_id, user_id)
SELECT id, created_by FROM calibrations
UNION
SELECT c.id, a.user_id
FROM audit_log a JOIN calibrations c ON a.entity_id = CAST(c.id AS TEXT)
WHERE a.entity = 'calibration' AND a.action IN ('update', 'submit') AND a.user_id IS NOT NULL;

UPDATE calibrations SET updated_by = COALESCE(
    (SELECT a.user_id FROM audit_log a
     WHERE a.entity = 'calibration' AND a.entity_id = CAST(calibrations.id AS TEXT)
     ORDER BY a.seq DESC LIMIT 1),
    created_by);
