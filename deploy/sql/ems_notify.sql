-- Optional, in the EMS output database (bdd_sortie_ems): announce every new plan row so that
-- elfe-supervisor applies it at once instead of at its next poll (ems.poll_seconds).
-- The channel must match ems.notify_channel in the supervisor configuration.
-- The `result` table belongs to the EMS; this trigger only adds a NOTIFY after each insert.

CREATE OR REPLACE FUNCTION elfe_notify_result() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('elfe_ems_result', NEW.machine_id::text);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS elfe_notify_result ON result;
CREATE TRIGGER elfe_notify_result
    AFTER INSERT ON result
    FOR EACH ROW EXECUTE FUNCTION elfe_notify_result();
