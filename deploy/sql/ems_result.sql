-- EMS output tables (the "sortie EMS" database, schema public).
--
-- These tables belong to the ELFE EMS, which creates and fills them (EMS_OUT_db_creator):
-- elfe-supervisor only reads `result`. This file reproduces their structure, as the project
-- reference (coordination-db.md section 6.1) describes it, for the tests and the demo.
-- Names are unqualified on purpose: load it into the EMS output database (public schema),
-- or into any scratch database. Safe to re-run (IF NOT EXISTS, as the EMS itself does).
--
-- `result`: one row per scheduled equipment per EMS run, append-only, never deleted.
--   machine_id            = bdd_coordination_schema.equipement_pilote_ou_mesure.id
--   machine_type          = its equipement_pilote_ou_mesure_type_id
--   first_valid_timestamp = Unix seconds (UTC) at which slot 0 starts, a multiple of 900
--   decisions_k           = 0/1 for the slot [first_valid_timestamp + 900*k, +900), k = 0..95
--   result_type           = not meaningful; consumers ignore it
-- Duplicate (machine_id, first_valid_timestamp) rows are possible when the EMS is re-run:
-- the greatest id wins.

CREATE TABLE IF NOT EXISTS result (
    id                    serial  PRIMARY KEY,
    first_valid_timestamp integer NOT NULL,
    machine_id            integer NOT NULL,
    result_type           integer NOT NULL,
    machine_type          integer NOT NULL,
    decisions_0  integer NOT NULL,
    decisions_1  integer NOT NULL,
    decisions_2  integer NOT NULL,
    decisions_3  integer NOT NULL,
    decisions_4  integer NOT NULL,
    decisions_5  integer NOT NULL,
    decisions_6  integer NOT NULL,
    decisions_7  integer NOT NULL,
    decisions_8  integer NOT NULL,
    decisions_9  integer NOT NULL,
    decisions_10 integer NOT NULL,
    decisions_11 integer NOT NULL,
    decisions_12 integer NOT NULL,
    decisions_13 integer NOT NULL,
    decisions_14 integer NOT NULL,
    decisions_15 integer NOT NULL,
    decisions_16 integer NOT NULL,
    decisions_17 integer NOT NULL,
    decisions_18 integer NOT NULL,
    decisions_19 integer NOT NULL,
    decisions_20 integer NOT NULL,
    decisions_21 integer NOT NULL,
    decisions_22 integer NOT NULL,
    decisions_23 integer NOT NULL,
    decisions_24 integer NOT NULL,
    decisions_25 integer NOT NULL,
    decisions_26 integer NOT NULL,
    decisions_27 integer NOT NULL,
    decisions_28 integer NOT NULL,
    decisions_29 integer NOT NULL,
    decisions_30 integer NOT NULL,
    decisions_31 integer NOT NULL,
    decisions_32 integer NOT NULL,
    decisions_33 integer NOT NULL,
    decisions_34 integer NOT NULL,
    decisions_35 integer NOT NULL,
    decisions_36 integer NOT NULL,
    decisions_37 integer NOT NULL,
    decisions_38 integer NOT NULL,
    decisions_39 integer NOT NULL,
    decisions_40 integer NOT NULL,
    decisions_41 integer NOT NULL,
    decisions_42 integer NOT NULL,
    decisions_43 integer NOT NULL,
    decisions_44 integer NOT NULL,
    decisions_45 integer NOT NULL,
    decisions_46 integer NOT NULL,
    decisions_47 integer NOT NULL,
    decisions_48 integer NOT NULL,
    decisions_49 integer NOT NULL,
    decisions_50 integer NOT NULL,
    decisions_51 integer NOT NULL,
    decisions_52 integer NOT NULL,
    decisions_53 integer NOT NULL,
    decisions_54 integer NOT NULL,
    decisions_55 integer NOT NULL,
    decisions_56 integer NOT NULL,
    decisions_57 integer NOT NULL,
    decisions_58 integer NOT NULL,
    decisions_59 integer NOT NULL,
    decisions_60 integer NOT NULL,
    decisions_61 integer NOT NULL,
    decisions_62 integer NOT NULL,
    decisions_63 integer NOT NULL,
    decisions_64 integer NOT NULL,
    decisions_65 integer NOT NULL,
    decisions_66 integer NOT NULL,
    decisions_67 integer NOT NULL,
    decisions_68 integer NOT NULL,
    decisions_69 integer NOT NULL,
    decisions_70 integer NOT NULL,
    decisions_71 integer NOT NULL,
    decisions_72 integer NOT NULL,
    decisions_73 integer NOT NULL,
    decisions_74 integer NOT NULL,
    decisions_75 integer NOT NULL,
    decisions_76 integer NOT NULL,
    decisions_77 integer NOT NULL,
    decisions_78 integer NOT NULL,
    decisions_79 integer NOT NULL,
    decisions_80 integer NOT NULL,
    decisions_81 integer NOT NULL,
    decisions_82 integer NOT NULL,
    decisions_83 integer NOT NULL,
    decisions_84 integer NOT NULL,
    decisions_85 integer NOT NULL,
    decisions_86 integer NOT NULL,
    decisions_87 integer NOT NULL,
    decisions_88 integer NOT NULL,
    decisions_89 integer NOT NULL,
    decisions_90 integer NOT NULL,
    decisions_91 integer NOT NULL,
    decisions_92 integer NOT NULL,
    decisions_93 integer NOT NULL,
    decisions_94 integer NOT NULL,
    decisions_95 integer NOT NULL
);

-- Suggested index, NOT created here: the table belongs to the EMS and upstream has no index
-- on it (it grows without bound). If the EMS operators agree, it turns the supervisor's
-- "latest plan per machine" lookup (DISTINCT ON (machine_id) ... ORDER BY machine_id,
-- first_valid_timestamp DESC, id DESC) into an index scan:
-- CREATE INDEX CONCURRENTLY IF NOT EXISTS result_machine_fvt_id_idx
--     ON result (machine_id, first_valid_timestamp DESC, id DESC);

-- Predicted balance curve (W) after / before the flexible loads are placed; upserted by the EMS.
CREATE TABLE IF NOT EXISTS p_c_with_flexible_consumption (
    data_timestamp integer PRIMARY KEY,
    power          integer NOT NULL
);

CREATE TABLE IF NOT EXISTS p_c_without_flexible_consumption (
    data_timestamp integer PRIMARY KEY,
    power          integer NOT NULL
);

-- One row per EMS run (read by Node-RED for monitoring). `timestamp` is the round's
-- first_valid_timestamp; conso_* are the hours of smallest / largest predicted deficit (W).
CREATE TABLE IF NOT EXISTS ems_run_info (
    timestamp                serial  PRIMARY KEY,
    run_time_ms              integer NOT NULL,
    consumer_count           integer NOT NULL,
    conso_min_hour_timestamp integer NOT NULL,
    conso_min_hour           integer NOT NULL,
    conso_max_hour_timestamp integer NOT NULL,
    conso_max_hour           integer NOT NULL
);
