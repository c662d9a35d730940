-- ELFE coordination database, schema v6.3 ("BDD Coordination", schema bdd_coordination_schema).
--
-- Written for elfe-supervisor from the project's reference description of the upstream
-- v6.3 DDL (02/06/2023). It reproduces that schema (27 tables, 26 foreign keys, the 56
-- enumeration rows) so that the tests and the demo run against the same structure as the
-- production database. It is not a migration and must not be run against production.
--
-- Faithful to v6.3 on purpose, quirks included (do not "fix" them here):
--   * every time is a 32-bit integer (Unix seconds, or seconds since 00:00 UTC);
--   * equipement_domotique.id is text, the detail tables' ids are integers;
--   * the shellyplus1pm detail table has an integer id with no sequence, different column
--     names and a nullable LWT column defaulting to 'aucun';
--   * the CHECK on temperature_confort tests temperature_eco (copy-paste bug upstream);
--   * the column name timestamp_dernier_declechement (sic);
--   * utilisateur is free, nullable text defaulting to 'non renseigné';
--   * no FK on equipement_pilote_specifique_id, equipement_domotique_specifique_id and
--     cycle_equipement_pilote_machine_generique_id (polymorphic / forward pointers).
--
-- Differences from the upstream script, none of which changes the structure:
--   * the 8 upstream FK names longer than 63 characters (which PostgreSQL silently truncates)
--     get short explicit names here; nobody may rely on FK names;
--   * enumeration descriptions are written for this project (the reference gives only their
--     meaning); ids, nom and nom_humain are exactly the upstream values;
--   * no GRANT to role "coordination" (the upstream script fails when that role is missing);
--     grants live in roles.sql.
--
-- Loads into a fresh empty database with
--   psql -v ON_ERROR_STOP=1 [--single-transaction] -f coordination_v6_3.sql
-- or in one psycopg call: conn.execute(open(path).read()). Not re-runnable (CREATE SCHEMA).
-- Then optionally sample_household.sql (demo / test data).

CREATE SCHEMA bdd_coordination_schema;
SET search_path TO bdd_coordination_schema, public;

-- ---------------------------------------------------------------------------------------
-- Enumeration tables (7)
-- ---------------------------------------------------------------------------------------

CREATE TABLE equipement_pilote_ou_mesure_type (
    id          integer NOT NULL CHECK (id > 0),
    nom         text    NOT NULL,
    nom_humain  text    NOT NULL,
    description text    NOT NULL,
    CONSTRAINT equipement_pilote_ou_mesure_type_id_pkey PRIMARY KEY (id)
);

CREATE TABLE equipement_pilote_ou_mesure_mode (
    id          integer NOT NULL CHECK (id >= 0),
    nom         text    NOT NULL,
    nom_humain  text    NOT NULL,
    description text    NOT NULL,
    CONSTRAINT equipement_pilote_ou_mesure_mode_id_pkey PRIMARY KEY (id)
);

CREATE TABLE equipement_pilote_etat_controle (
    id          integer NOT NULL CHECK (id > 0),
    nom         text    NOT NULL,
    nom_humain  text    NOT NULL,
    description text    NOT NULL,
    CONSTRAINT equipement_pilote_etat_controle_id_pkey PRIMARY KEY (id)
);

CREATE TABLE equipement_pilote_etat_commande (
    id          integer NOT NULL CHECK (id > 0),
    nom         text    NOT NULL,
    nom_humain  text    NOT NULL,
    description text    NOT NULL,
    CONSTRAINT equipement_pilote_etat_commande_id_pkey PRIMARY KEY (id)
);

CREATE TABLE equipement_pilote_typologie_installation_domotique (
    id          integer NOT NULL CHECK (id > 0),
    nom         text    NOT NULL,
    nom_humain  text    NOT NULL,
    description text    NOT NULL,
    CONSTRAINT equipement_pilote_typologie_installation_domotique_id_pkey PRIMARY KEY (id)
);

CREATE TABLE equipement_domotique_type (
    id          integer NOT NULL CHECK (id > 0),
    nom         text    NOT NULL,
    nom_humain  text    NOT NULL,
    description text    NOT NULL,
    CONSTRAINT equipement_domotique_type_id_pkey PRIMARY KEY (id)
);

CREATE TABLE equipement_domotique_usage (
    id          integer NOT NULL CHECK (id > 0),
    nom         text    NOT NULL,
    nom_humain  text    NOT NULL,
    description text    NOT NULL,
    CONSTRAINT equipement_domotique_usage_id_pkey PRIMARY KEY (id)
);

-- ---------------------------------------------------------------------------------------
-- Piloted or measured equipment: the hub ("epom")
-- ---------------------------------------------------------------------------------------

CREATE TABLE equipement_pilote_ou_mesure (
    id                                   serial  NOT NULL,
    -- id of the row in the type-specific table (polymorphic, no FK)
    equipement_pilote_specifique_id      integer NOT NULL,
    typologie_installation_domotique_id  integer NOT NULL CHECK (typologie_installation_domotique_id > 0),
    nom_humain                           text    NOT NULL,
    description                          text    NOT NULL,
    equipement_pilote_ou_mesure_type_id  integer NOT NULL CHECK (equipement_pilote_ou_mesure_type_id > 0),
    equipement_pilote_ou_mesure_mode_id  integer NOT NULL CHECK (equipement_pilote_ou_mesure_mode_id > 0),
    etat_controle_id                     integer NOT NULL CHECK (etat_controle_id > 0),
    etat_commande_id                     integer NOT NULL CHECK (etat_commande_id > 0),
    ems_consigne_marche                  boolean NOT NULL,
    timestamp_derniere_mise_en_marche    integer NOT NULL DEFAULT 0 CHECK (timestamp_derniere_mise_en_marche >= 0),
    timestamp_derniere_programmation     integer NOT NULL DEFAULT 0 CHECK (timestamp_derniere_programmation >= 0),
    utilisateur                          text             DEFAULT 'non renseigné',
    CONSTRAINT equipement_pilote_ou_mesure_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_pilote_polymorphism_uniq UNIQUE (id, equipement_pilote_specifique_id),
    CONSTRAINT typologie_installation_domotique_id_fkey FOREIGN KEY (typologie_installation_domotique_id)
        REFERENCES equipement_pilote_typologie_installation_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT equipement_pilote_ou_mesure_type_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_type_id)
        REFERENCES equipement_pilote_ou_mesure_type (id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT equipement_pilote_ou_mesure_mode_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_mode_id)
        REFERENCES equipement_pilote_ou_mesure_mode (id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT etat_controle_id_fkey FOREIGN KEY (etat_controle_id)
        REFERENCES equipement_pilote_etat_controle (id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT etat_commande_id_fkey FOREIGN KEY (etat_commande_id)
        REFERENCES equipement_pilote_etat_commande (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- ---------------------------------------------------------------------------------------
-- Type-specific tables and their sub-tables (10)
-- ---------------------------------------------------------------------------------------

-- One-shot appliances (types 1, 111, 112, 113)
CREATE TABLE equipement_pilote_machine_generique (
    id                                           serial  NOT NULL,
    equipement_pilote_ou_mesure_id               integer NOT NULL,
    timestamp_de_fin_souhaite                    integer NOT NULL CHECK (timestamp_de_fin_souhaite >= 0),
    delai_attente_maximale_apres_fin             integer NOT NULL CHECK (delai_attente_maximale_apres_fin >= 0),
    -- selected row of equipement_pilote_machine_generique_cycle (no FK upstream)
    cycle_equipement_pilote_machine_generique_id integer NOT NULL CHECK (cycle_equipement_pilote_machine_generique_id > 0),
    mesures_puissance_elec_id                    integer NOT NULL CHECK (mesures_puissance_elec_id > 0),
    CONSTRAINT equipement_pilote_machine_generique_id_pkey PRIMARY KEY (id),
    -- upstream name (71 chars, truncated by PostgreSQL):
    -- equipement_pilote_machine_generique_equipement_pilote_ou_mesure_id_fkey
    CONSTRAINT machine_generique_epom_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Programmes of a machine
CREATE TABLE equipement_pilote_machine_generique_cycle (
    id                                     serial  NOT NULL,
    equipement_pilote_machine_generique_id integer NOT NULL,
    duree_cycle                            integer NOT NULL CHECK (duree_cycle > 0),
    nom                                    text    NOT NULL,
    description                            text    NOT NULL,
    timestamp_dernier_declechement         integer NOT NULL DEFAULT 0 CHECK (timestamp_dernier_declechement >= 0),
    CONSTRAINT equipement_pilote_machine_generique_cycle_id_pkey PRIMARY KEY (id),
    -- upstream name (86 chars, truncated by PostgreSQL):
    -- equipement_pilote_machine_generique_cycle__equipement_pilote_machine_generique_id_fkey
    CONSTRAINT machine_generique_cycle_machine_id_fkey FOREIGN KEY (equipement_pilote_machine_generique_id)
        REFERENCES equipement_pilote_machine_generique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Vehicle charging (type 221, presumably 225 and 515)
CREATE TABLE equipement_pilote_vehicule_electrique_generique (
    id                                           serial  NOT NULL,
    equipement_pilote_ou_mesure_id               integer NOT NULL,
    pourcentage_charge_restant                   integer NOT NULL CHECK (pourcentage_charge_restant >= 0),
    pourcentage_charge_finale_minimale_souhaitee integer NOT NULL CHECK (pourcentage_charge_finale_minimale_souhaitee > 0),
    duree_de_charge_estimee                      integer NOT NULL CHECK (duree_de_charge_estimee >= 0),
    timestamp_dispo_souhaitee                    integer NOT NULL CHECK (timestamp_dispo_souhaitee >= 0),
    puissance_de_charge                          integer NOT NULL CHECK (puissance_de_charge > 0),
    capacite_de_batterie                         integer NOT NULL CHECK (capacite_de_batterie > 0),
    mesures_puissance_elec_id                    integer NOT NULL CHECK (mesures_puissance_elec_id > 0),
    CONSTRAINT equipement_pilote_vehicule_electrique_generique_id_pkey PRIMARY KEY (id),
    -- upstream name (83 chars, truncated by PostgreSQL):
    -- equipement_pilote_vehicule_electrique_generique_equipement_pilote_ou_mesure_id_fkey
    CONSTRAINT vehicule_electrique_generique_epom_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Electric hot-water tank (type 131)
CREATE TABLE equipement_pilote_ballon_ecs (
    id                             serial  NOT NULL,
    equipement_pilote_ou_mesure_id integer NOT NULL,
    volume_ballon                  integer NOT NULL CHECK (volume_ballon > 0),
    puissance_chauffe              integer NOT NULL CHECK (puissance_chauffe > 0),
    mesures_puissance_elec_id      integer NOT NULL CHECK (mesures_puissance_elec_id > 0),
    CONSTRAINT equipement_pilote_ballon_ecs_id_pkey PRIMARY KEY (id),
    -- upstream name (64 chars, truncated by PostgreSQL):
    -- equipement_pilote_ballon_ecs_equipement_pilote_ou_mesure_id_fkey
    CONSTRAINT ballon_ecs_epom_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Off-peak windows of a tank; times in seconds since 00:00 UTC, fin > 86400 crosses midnight
CREATE TABLE equipement_pilote_ballon_ecs_heures_creuses (
    id                              serial  NOT NULL,
    equipement_pilote_ballon_ecs_id integer NOT NULL,
    nom                             text    NOT NULL,
    description                     text    NOT NULL,
    actif                           boolean NOT NULL,
    debut                           integer NOT NULL CHECK (debut > -1),
    fin                             integer NOT NULL CHECK (fin > 0),
    CONSTRAINT equipement_pilote_ballon_ecs_heures_creuses_id_pkey PRIMARY KEY (id),
    CONSTRAINT equ_pilote_ballon_ecs_h_creuses_equ_pilote_ballon_ecs_id_fkey
        FOREIGN KEY (equipement_pilote_ballon_ecs_id)
        REFERENCES equipement_pilote_ballon_ecs (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Thermal models (no rows seeded)
CREATE TABLE chauffage_asservi_modele_thermique (
    id          serial NOT NULL,
    nom         text   NOT NULL,
    description text   NOT NULL,
    CONSTRAINT chauffage_asservi_modele_thermique_id_pkey PRIMARY KEY (id)
);

-- Heating with a temperature loop (type 155). Temperatures in tenths of a kelvin.
-- Column order matters: the EMS maps SELECT * of this table by position.
CREATE TABLE equipement_pilote_chauffage_asservi (
    id                                         serial  NOT NULL,
    equipement_pilote_ou_mesure_id             integer NOT NULL,
    temperature_eco                            integer NOT NULL CHECK (temperature_eco > 0),
    -- upstream copy-paste bug kept on purpose: this CHECK tests temperature_eco
    temperature_confort                        integer NOT NULL CHECK (temperature_eco > 0),
    prog_semaine_periode_1_confort_actif       boolean NOT NULL,
    prog_semaine_periode_1_confort_heure_debut integer NOT NULL CHECK (prog_semaine_periode_1_confort_heure_debut > 0),
    prog_semaine_periode_1_confort_heure_fin   integer NOT NULL CHECK (prog_semaine_periode_1_confort_heure_fin > 0),
    prog_semaine_periode_2_confort_actif       boolean NOT NULL,
    prog_semaine_periode_2_confort_heure_debut integer NOT NULL CHECK (prog_semaine_periode_2_confort_heure_debut > 0),
    prog_semaine_periode_2_confort_heure_fin   integer NOT NULL CHECK (prog_semaine_periode_2_confort_heure_fin > 0),
    prog_weekend_periode_1_confort_actif       boolean NOT NULL,
    prog_weekend_periode_1_confort_heure_debut integer NOT NULL CHECK (prog_weekend_periode_1_confort_heure_debut > 0),
    prog_weekend_periode_1_confort_heure_fin   integer NOT NULL CHECK (prog_weekend_periode_1_confort_heure_fin > 0),
    prog_weekend_periode_2_confort_actif       boolean NOT NULL,
    prog_weekend_periode_2_confort_heure_debut integer NOT NULL CHECK (prog_weekend_periode_2_confort_heure_debut > 0),
    prog_weekend_periode_2_confort_heure_fin   integer NOT NULL CHECK (prog_weekend_periode_2_confort_heure_fin > 0),
    delta_temp_maximale_temp_demandee          integer NOT NULL CHECK (delta_temp_maximale_temp_demandee > 0),
    puissance                                  integer NOT NULL CHECK (puissance > 0),
    modele_thermique_id                        integer NOT NULL CHECK (modele_thermique_id > 0),
    mesures_puissance_elec_id                  integer NOT NULL CHECK (mesures_puissance_elec_id > 0),
    mesure_temperature_id                      integer NOT NULL CHECK (mesure_temperature_id > 0),
    CONSTRAINT equipement_pilote_chauffage_asservi_id_pkey PRIMARY KEY (id),
    -- upstream name (71 chars, truncated by PostgreSQL):
    -- equipement_pilote_chauffage_asservi_equipement_pilote_ou_mesure_id_fkey
    CONSTRAINT chauffage_asservi_epom_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT equipement_pilote_chauffage_asservi_modele_thermique_id_fkey FOREIGN KEY (modele_thermique_id)
        REFERENCES chauffage_asservi_modele_thermique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Heating in programme plus load-shedding mode (type 151)
CREATE TABLE equipement_pilote_chauffage_non_asservi (
    id                                         serial  NOT NULL,
    equipement_pilote_ou_mesure_id             integer NOT NULL,
    prog_semaine_periode_1_confort_actif       boolean NOT NULL,
    prog_semaine_periode_1_confort_heure_debut integer NOT NULL CHECK (prog_semaine_periode_1_confort_heure_debut > 0),
    prog_semaine_periode_1_confort_heure_fin   integer NOT NULL CHECK (prog_semaine_periode_1_confort_heure_fin > 0),
    prog_semaine_periode_2_confort_actif       boolean NOT NULL,
    prog_semaine_periode_2_confort_heure_debut integer NOT NULL CHECK (prog_semaine_periode_2_confort_heure_debut > 0),
    prog_semaine_periode_2_confort_heure_fin   integer NOT NULL CHECK (prog_semaine_periode_2_confort_heure_fin > 0),
    prog_weekend_periode_1_confort_actif       boolean NOT NULL,
    prog_weekend_periode_1_confort_heure_debut integer NOT NULL CHECK (prog_weekend_periode_1_confort_heure_debut > 0),
    prog_weekend_periode_1_confort_heure_fin   integer NOT NULL CHECK (prog_weekend_periode_1_confort_heure_fin > 0),
    prog_weekend_periode_2_confort_actif       boolean NOT NULL,
    prog_weekend_periode_2_confort_heure_debut integer NOT NULL CHECK (prog_weekend_periode_2_confort_heure_debut > 0),
    prog_weekend_periode_2_confort_heure_fin   integer NOT NULL CHECK (prog_weekend_periode_2_confort_heure_fin > 0),
    puissance_moyenne_eco                      integer NOT NULL CHECK (puissance_moyenne_eco > 0),
    puissance_moyenne_confort                  integer NOT NULL CHECK (puissance_moyenne_confort > 0),
    pourcentage_eco_force                      integer NOT NULL CHECK (pourcentage_eco_force > 0),
    mesures_puissance_elec_id                  integer NOT NULL CHECK (mesures_puissance_elec_id > 0),
    CONSTRAINT equipement_pilote_chauffage_non_asservi_id_pkey PRIMARY KEY (id),
    -- upstream name (73 chars, truncated by PostgreSQL; note the _fk suffix):
    -- equipement_pilote_chauffage_non_asservi_equipement_pilote_ou_mesure_id_fk
    CONSTRAINT chauffage_non_asservi_epom_id_fk FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Electricity meter (type 410, measured only)
CREATE TABLE equipement_mesure_compteur_electrique (
    id                             serial  NOT NULL,
    equipement_pilote_ou_mesure_id integer NOT NULL,
    numero_pdl                     text    NOT NULL,
    mesures_puissance_elec_id      integer NOT NULL CHECK (mesures_puissance_elec_id > 0),
    CONSTRAINT equipement_mesure_compteur_electrique_id_pkey PRIMARY KEY (id),
    -- upstream name (73 chars, truncated by PostgreSQL):
    -- equipement_mesure_compteur_electrique_equipement_pilote_ou_mesure_id_fkey
    CONSTRAINT compteur_electrique_epom_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Production plant (types 901, 910, 920)
CREATE TABLE equipement_mesure_centrale_elec_generique (
    id                             serial  NOT NULL,
    equipement_pilote_ou_mesure_id integer NOT NULL,
    mesures_puissance_elec_id      integer NOT NULL CHECK (mesures_puissance_elec_id > 0),
    CONSTRAINT equipement_mesure_centrale_elec_generique_id_pkey PRIMARY KEY (id),
    -- upstream name (77 chars, truncated by PostgreSQL):
    -- equipement_mesure_centrale_elec_generique_equipement_pilote_ou_mesure_id_fkey
    CONSTRAINT centrale_elec_generique_epom_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- ---------------------------------------------------------------------------------------
-- Home-automation devices (1 + 8 per-type detail tables)
-- ---------------------------------------------------------------------------------------

CREATE TABLE equipement_domotique (
    id                                 text    NOT NULL,
    equipement_pilote_ou_mesure_id     integer NOT NULL,
    equipement_domotique_type_id       integer NOT NULL CHECK (equipement_domotique_type_id > 0),
    equipement_domotique_usage_id      integer NOT NULL CHECK (equipement_domotique_usage_id > 0),
    id_materiel                        text             DEFAULT 'non renseigné',
    marque                             text             DEFAULT 'non renseigné',
    utilisateur                        text             DEFAULT 'non renseigné',
    utilisateur_affecte                boolean NOT NULL,
    -- id of the row in equipement_domotique_<type.nom> (polymorphic, no FK)
    equipement_domotique_specifique_id integer NOT NULL,
    CONSTRAINT equipement_domotique_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_polymorphism_uniq UNIQUE (id, equipement_domotique_specifique_id),
    CONSTRAINT equipement_domotique_equipement_pilote_ou_mesure_id_fkey FOREIGN KEY (equipement_pilote_ou_mesure_id)
        REFERENCES equipement_pilote_ou_mesure (id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT equipement_domotique_type_id_fkey FOREIGN KEY (equipement_domotique_type_id)
        REFERENCES equipement_domotique_type (id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT equipement_domotique_usage_id_fkey FOREIGN KEY (equipement_domotique_usage_id)
        REFERENCES equipement_domotique_usage (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Shelly Plug S (type 111)
CREATE TABLE equipement_domotique_shellyplugs_shellycloud_v1 (
    id                       serial NOT NULL,
    equipement_domotique_id  text   NOT NULL,
    topic_mqtt_controle_json text   NOT NULL,
    topic_mqtt_commande_text text   NOT NULL,
    topic_mqtt_lwt           text   NOT NULL,
    CONSTRAINT equipement_domotique_shellyplugs_shellycloud_v1_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_shellyplugs_shellycloud_v1_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Nous A1T plug, Tasmota (type 112)
CREATE TABLE equipement_domotique_nous_a1t_tasmota_v12 (
    id                       serial NOT NULL,
    equipement_domotique_id  text   NOT NULL,
    topic_mqtt_controle_json text   NOT NULL,
    topic_mqtt_commande_text text   NOT NULL,
    topic_mqtt_lwt           text   NOT NULL,
    CONSTRAINT equipement_domotique_nous_a1t_tasmota_v12_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_nous_a1t_tasmota_v12_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Tele-information (TIC) reader, Tasmota (type 211)
CREATE TABLE equipement_domotique_teleinfo_tasmota_v12 (
    id                       serial NOT NULL,
    equipement_domotique_id  text   NOT NULL,
    topic_mqtt_controle_json text   NOT NULL,
    topic_mqtt_commande_text text   NOT NULL,
    topic_mqtt_lwt           text   NOT NULL,
    CONSTRAINT equipement_domotique_teleinfo_tasmota_v12_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_teleinfo_tasmota_v12_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- SwitchBot finger behind its BLE gateway (type 311)
CREATE TABLE equipement_domotique_switchbot_mqtt2ble_v7 (
    id                       serial NOT NULL,
    equipement_domotique_id  text   NOT NULL,
    topic_mqtt_controle_json text   NOT NULL,
    topic_mqtt_commande_text text   NOT NULL,
    topic_mqtt_lwt           text   NOT NULL,
    CONSTRAINT equipement_domotique_switchbot_mqtt2ble_v7_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_switchbot_mqtt2ble_v7_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Shelly Plus 1PM (type 411): the exception. Integer id WITHOUT sequence (supply it on
-- insert), different column names, nullable LWT defaulting to 'aucun'.
CREATE TABLE equipement_domotique_shellyplus1pm_shellycloud_v1 (
    id                                 integer NOT NULL,
    equipement_domotique_id            text    NOT NULL,
    topic_mqtt_controle_et_mesure_json text    NOT NULL,
    topic_mqtt_commande_json           text    NOT NULL,
    topic_mqtt_lwt                     text             DEFAULT 'aucun',
    CONSTRAINT equipement_domotique_shellyplus1pm_shellycloud_v1_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_dom_shellyplus1pm_shellycloud_v1_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- Shelly H&T thermometer (type 611)
CREATE TABLE equipement_domotique_shellyht_shellycloud_v1 (
    id                       serial NOT NULL,
    equipement_domotique_id  text   NOT NULL,
    topic_mqtt_controle_json text   NOT NULL,
    topic_mqtt_commande_text text   NOT NULL,
    topic_mqtt_lwt           text   NOT NULL,
    CONSTRAINT equipement_domotique_shellyht_shellycloud_v1_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_shellyht_shellycloud_v1_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- M5Stack Core2 running openHASP, the "ELFI" screen (type 711)
CREATE TABLE equipement_domotique_m5stackcore2_openhasp_v0 (
    id                       serial NOT NULL,
    equipement_domotique_id  text   NOT NULL,
    topic_mqtt_controle_json text   NOT NULL,
    topic_mqtt_commande_text text   NOT NULL,
    topic_mqtt_lwt           text   NOT NULL,
    CONSTRAINT equipement_domotique_m5stackcore2_openhasp_v0_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_m5stackcore2_openhasp_v0_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- One output channel of a Socorel controller (type 811); the controller publishes no LWT
CREATE TABLE equipement_domotique_socorel_automate_v0 (
    id                       serial NOT NULL,
    equipement_domotique_id  text   NOT NULL,
    topic_mqtt_controle_json text   NOT NULL,
    topic_mqtt_commande_text text   NOT NULL,
    topic_mqtt_lwt           text   NOT NULL,
    CONSTRAINT equipement_domotique_socorel_automate_v0_id_pkey PRIMARY KEY (id),
    CONSTRAINT equipement_domotique_socorel_automate_v0_eq_dom_id_fkey FOREIGN KEY (equipement_domotique_id)
        REFERENCES equipement_domotique (id)
        ON UPDATE CASCADE ON DELETE RESTRICT
);

-- ---------------------------------------------------------------------------------------
-- Enumeration rows (56). ids, nom and nom_humain as upstream (spelling included).
-- ---------------------------------------------------------------------------------------

INSERT INTO equipement_pilote_ou_mesure_type (id, nom, nom_humain, description) VALUES
    (1,   'machine_generique',            'machine générique',                            'Machine générique dont l''EMS peut déclencher le démarrage'),
    (111, 'lave_vaisselle',               'lave vaisselle',                               'Lave-vaisselle dont le démarrage est déclenché par l''EMS'),
    (112, 'lave_linge',                   'lave linge',                                   'Lave-linge dont le démarrage est déclenché par l''EMS'),
    (113, 'seche_linge',                  'sèche linge',                                  'Sèche-linge dont le démarrage est déclenché par l''EMS'),
    (131, 'ballon_ecs',                   'ballon d''eau chaude sanitaire électrique',    'Ballon d''eau chaude sanitaire électrique mis en marche ou arrêté par l''EMS'),
    (151, 'chauffage_non_asservi',        'chauffage non asservi',                        'Chauffage sans retour de température, piloté en éco ou confort par l''EMS'),
    (155, 'chauffage_asservi',            'chauffage asservi',                            'Chauffage dont la boucle de température est fermée par l''EMS, mis en marche ou arrêté'),
    (221, 'voiture_electrique',           'voiture électrique',                           'Voiture électrique dont l''EMS peut piloter la recharge'),
    (225, 'velo_assistance_electrique',   'vélo électrique',                              'Vélo à assistance électrique dont l''EMS peut piloter la recharge'),
    (410, 'compteur_electrique',          'compteur électrique',                          'Compteur électrique donnant au moins la puissance instantanée (mesure seule)'),
    (515, 'chariot_elevateur_electrique', 'chariot élévateur',                            'Chariot élévateur électrique dont l''EMS peut piloter la recharge'),
    (901, 'centrale_elec_generique',      'centrale de production électrique générique',  'Centrale de production électrique générique dont la production est mesurée'),
    (910, 'centrale_solaire_elec',        'centrale de production solaire',               'Centrale solaire dont la production est mesurée'),
    (920, 'centrale_eolienne_elec',       'centrale de production éoliennne',             'Centrale éolienne dont la production est mesurée');

INSERT INTO equipement_pilote_ou_mesure_mode (id, nom, nom_humain, description) VALUES
    (1,  'non_pilote',   'non piloté',             'Équipement non pilotable, typiquement un équipement mesuré seulement'),
    (10, 'installation', 'installation en cours',  'Installation en cours : équipement pas encore disponible'),
    (20, 'manuel',       'fonctionnement manuel',  'L''utilisateur commande directement l''équipement'),
    (30, 'pilote',       'fonctionnement piloté',  'L''EMS pilote l''équipement'),
    (70, 'desactive',    'désactivé',              'Équipement désactivé (par exemple automate Socorel en mode forcé ou local)'),
    (80, 'suppr',        'supprimé',               'Équipement désinstallé');

INSERT INTO equipement_pilote_etat_controle (id, nom, nom_humain, description) VALUES
    (15, 'on',      'marche',                  'Équipement alimenté : en veille, en attente ou en fonctionnement'),
    (25, 'off',     'arrêt',                   'Équipement non alimenté, à l''arrêt'),
    (60, 'errcom',  'erreur de communication', 'Erreur de communication avec l''équipement'),
    (70, 'inconnu', 'état inconnu',            'État de l''équipement inconnu');

INSERT INTO equipement_pilote_etat_commande (id, nom, nom_humain, description) VALUES
    (1,  'etat_initial',         'état initial',            'État initial des équipements au démarrage d''ELFE'),
    (11, 'pilote_stand_by',      'En attente de lancement', 'Ordre de pilotage reçu ; appareil arrêté, en attente de son créneau de lancement'),
    (12, 'manuel_pilote_on',     'En marche controlée',     'Équipement en marche, en mode manuel ou piloté'),
    (13, 'manuel_on',            'En marche libre',         'Équipement en marche en mode manuel'),
    (21, 'pilote_en_activation', 'En cours de lancement',   'Ordre de lancement envoyé'),
    (30, 'err',                  'erreur',                  'Équipement en erreur'),
    (99, 'non_commande',         'Non-Commandé',            'Équipement non commandé par ELFE');

INSERT INTO equipement_pilote_typologie_installation_domotique (id, nom, nom_humain, description) VALUES
    (110, 'deux_relais',                  'Deux relais',                        'Un relais pour mesurer, un relais pour commander'),
    (120, 'prise_commande',               'Une prise ou un relai commandé',     'Une prise ou un relais qui mesure et commute le courant'),
    (130, 'prise_et_doigt',               'Une prise et un doigt',              'Une prise qui mesure et un doigt robot qui lance l''appareil'),
    (140, 'relai_et_capteur_temperature', 'Un relai et un capteur',             'Un relais qui mesure et commute, et un capteur d''ambiance'),
    (150, 'prise_et_deux_doigts',         'Une prise et deux doigts',           'Une prise qui mesure, un doigt qui met l''appareil sous tension et un second doigt qui le lance'),
    (160, 'prise_et_doigt_double_appui',  'Une prise et un doigt double-appui', 'Une prise qui mesure et un doigt qui appuie deux fois pour lancer l''appareil'),
    (170, 'prise_rallume_et_doigt',       'Une prise commandée et un doigt',    'Une prise qui mesure et commute, et un doigt qui lance l''appareil'),
    (180, 'relai_et_compteur',            'Un relai et un compteur général',    'Un relais qui commute seulement ; un compteur général inclut la consommation de l''équipement'),
    (190, 'relai_inverse',                'Relai inversé',                      'Un relais qui commute à l''envers : l''équipement est en marche quand le relais est ouvert'),
    (200, 'TIC',                          'Une carte de relève TIC',            'Un équipement en lecture seule (interface de téléinformation du compteur)');

INSERT INTO equipement_domotique_type (id, nom, nom_humain, description) VALUES
    (111, 'shellyplugs_shellycloud_v1',   'Prise gigogne',          'Prise gigogne entre l''appareil et le secteur (Shelly Plug S)'),
    (112, 'nous_a1t_tasmota_v12',         'Prise gigogne',          'Prise gigogne entre l''appareil et le secteur (Nous A1T, micrologiciel Tasmota)'),
    (211, 'teleinfo_tasmota_v12',         'Carte téléinfo',         'Carte de lecture de la sortie téléinformation du compteur'),
    (311, 'switchbot_mqtt2ble_v7',        'Doigt robot',            'Doigt mécanique sur batterie et sa carte passerelle wifi'),
    (411, 'shellyplus1pm_shellycloud_v1', 'Relai connecté',         'Relais commandé installé dans le circuit électrique du participant'),
    (611, 'shellyht_shellycloud_v1',      'Capteur de température', 'Capteur de température et d''humidité ambiantes sur batterie'),
    (711, 'm5stackcore2_openhasp_v0',     'Ecran tactile',          'Écran tactile compact sur batterie, rechargé par USB-C (écran ELFI)'),
    (811, 'socorel_automate_v0',          'Automate Socorel',       'Une voie d''entrée/sortie d''un automate programmable');

INSERT INTO equipement_domotique_usage (id, nom, nom_humain, description) VALUES
    (11, 'mesurer_elec_commuter', 'Mesurer et commuter',   'Mesure un circuit électrique et le commute'),
    (12, 'commuter',              'Commuter',              'Commute un circuit électrique'),
    (21, 'mesurer_elec',          'Mesurer électrique',    'Mesure un circuit électrique'),
    (31, 'appuyer_power',         'Appui sur Power',       'Appuie sur le bouton de mise sous tension d''un appareil'),
    (32, 'appuyer_demarrage',     'Appui sur Démarrage',   'Appuie sur le bouton de démarrage d''un appareil'),
    (61, 'mesurer_ambiance',      'Mesurer ambiance',      'Mesure la température et l''humidité d''une pièce'),
    (71, 'ihm',                   'Interface utilisateur', 'Affiche des informations et reçoit les consignes de l''utilisateur');
