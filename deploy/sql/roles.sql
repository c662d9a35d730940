-- PostgreSQL role and grants for elfe-supervisor in production.
--
-- Run as a superuser (or the database owner) in the COORDINATION database, after the
-- schema exists:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -d bdd_coordination -f roles.sql
-- Re-runnable: the role is created only if missing, and GRANT is idempotent.
--
-- No password here. Set one interactively, so that it stays out of files and shell history:
--   sudo -u postgres psql -c '\password elfe_supervisor'
-- (scram-sha-256 is the default password_encryption since PostgreSQL 14), then put the
-- DSN in /etc/elfe-supervisor/secrets.env (ELFE_COORDINATION_DSN, mode 0600) and allow
-- the role in pg_hba.conf (hostssl ... elfe_supervisor ... scram-sha-256).

-- 1. Login role (cluster-wide) ---------------------------------------------------------

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'elfe_supervisor') THEN
        CREATE ROLE elfe_supervisor LOGIN;
    END IF;
END
$$;

-- 2. Coordination schema: read everything -------------------------------------------------

GRANT USAGE ON SCHEMA bdd_coordination_schema TO elfe_supervisor;
GRANT SELECT ON ALL TABLES IN SCHEMA bdd_coordination_schema TO elfe_supervisor;

-- 3. ... and update only the columns the supervisor owns ------------------------------------
-- (no INSERT, DELETE or sequence rights: provisioning and Viriya create the rows)

-- state machine and EMS set-point, mode changes (manual <-> piloted, 70 for a PLC in
-- local mode), last switch-on (the EMS's 12-hour rule for tanks), last programming
GRANT UPDATE (
    etat_controle_id,
    etat_commande_id,
    ems_consigne_marche,
    equipement_pilote_ou_mesure_mode_id,
    timestamp_derniere_mise_en_marche,
    timestamp_derniere_programmation
) ON bdd_coordination_schema.equipement_pilote_ou_mesure TO elfe_supervisor;

-- end time declared on the ELFI screen
GRANT UPDATE (timestamp_de_fin_souhaite)
    ON bdd_coordination_schema.equipement_pilote_machine_generique TO elfe_supervisor;

-- cycle duration edited on the ELFI screen
GRANT UPDATE (duree_cycle)
    ON bdd_coordination_schema.equipement_pilote_machine_generique_cycle TO elfe_supervisor;

-- availability time and remaining charge entered on the ELFI screen
GRANT UPDATE (timestamp_dispo_souhaitee, pourcentage_charge_restant)
    ON bdd_coordination_schema.equipement_pilote_vehicule_electrique_generique TO elfe_supervisor;

-- 4. Its own schema --------------------------------------------------------------------
-- The supervisor keeps its own tables (device telemetry, event journal) in the schema
-- `elfe_supervisor` (coordination.own_schema) and creates them there at start-up. It gets
-- CREATE on that schema only, never on the database nor on the coordination schema.

CREATE SCHEMA IF NOT EXISTS elfe_supervisor;
GRANT USAGE, CREATE ON SCHEMA elfe_supervisor TO elfe_supervisor;

-- 5. EMS output database (run separately, connected to THAT database) -----------------------
-- The EMS writes its plans to `result` in its output database (ems_sortie in production,
-- preprod_sortie_ems in preprod). The supervisor only reads it. If that database lives in
-- another PostgreSQL cluster, run section 1 there too (roles are per cluster).
--
--   \connect ems_sortie
--   GRANT CONNECT ON DATABASE ems_sortie TO elfe_supervisor;
--   GRANT USAGE ON SCHEMA public TO elfe_supervisor;
--   GRANT SELECT ON TABLE public.result TO elfe_supervisor;
