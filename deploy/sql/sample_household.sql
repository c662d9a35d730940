SET search_path TO bdd_coordination_schema, public;

-- Sample household 'R001' for the demo and the tests. Load it after coordination_v6_3.sql
-- into the same database. This is project data, not ELFE production data.
--
--   epom 1  Lave-linge        type 112, typology 120 (plug), mode 30 (piloted)
--           devices A101 (Shelly Plug S, usage 11) and G101 (openHASP screen, usage 71)
--   epom 2  Ballon ECS        type 131, typology 120 (plug), mode 30 (piloted)
--           device  A102 (Nous A1T Tasmota, usage 11)
--   epom 3  Radiateur séjour  type 151, typology 190 (inverted relay), mode 20 (manual)
--           device  A103 (Shelly Plug S, usage 11)
--
-- Insert order (reference section 9): epom rows with equipement_pilote_specifique_id already
-- set, then the type-specific rows, their sub-rows, equipement_domotique, the detail rows,
-- and finally setval on every sequence fed with explicit ids.
-- Invariant: equipement_domotique.equipement_domotique_specifique_id = id of its detail row,
-- and that detail row's equipement_domotique_id points back to the device.

-- 1. Piloted equipment ------------------------------------------------------------------

INSERT INTO equipement_pilote_ou_mesure (
    id, equipement_pilote_specifique_id, typologie_installation_domotique_id, nom_humain,
    description, equipement_pilote_ou_mesure_type_id, equipement_pilote_ou_mesure_mode_id,
    etat_controle_id, etat_commande_id, ems_consigne_marche,
    timestamp_derniere_mise_en_marche, timestamp_derniere_programmation, utilisateur
) VALUES
    (1, 1, 120, 'Lave-linge',       'aucun', 112, 30, 70, 11, false, 0, 0, 'R001'),
    (2, 1, 120, 'Ballon ECS',       'aucun', 131, 30, 70, 11, false, 0, 0, 'R001'),
    (3, 1, 190, 'Radiateur séjour', 'aucun', 151, 20, 70, 13, true,  0, 0, 'R001');

-- 2. Type-specific rows -----------------------------------------------------------------

-- Washing machine: cycle_equipement_pilote_machine_generique_id = 1, the cycle inserted next.
INSERT INTO equipement_pilote_machine_generique (
    id, equipement_pilote_ou_mesure_id, timestamp_de_fin_souhaite,
    delai_attente_maximale_apres_fin, cycle_equipement_pilote_machine_generique_id,
    mesures_puissance_elec_id
) VALUES
    (1, 1, 0, 7200, 1, 45001);

-- 3. Sub-rows and the other specific rows -----------------------------------------------

INSERT INTO equipement_pilote_machine_generique_cycle (
    id, equipement_pilote_machine_generique_id, duree_cycle, nom, description,
    timestamp_dernier_declechement
) VALUES
    (1, 1, 5400, 'coton 40', 'aucun', 0);

INSERT INTO equipement_pilote_ballon_ecs (
    id, equipement_pilote_ou_mesure_id, volume_ballon, puissance_chauffe, mesures_puissance_elec_id
) VALUES
    (1, 2, 200, 2400, 45002);

-- Off-peak window 22:00-06:00 UTC (fin > 86400 crosses midnight).
INSERT INTO equipement_pilote_ballon_ecs_heures_creuses (
    id, equipement_pilote_ballon_ecs_id, nom, description, actif, debut, fin
) VALUES
    (1, 1, 'hc1', 'aucun', true, 79200, 108000);

-- Heater: weekdays comfort 06:00-09:00 and 17:00-22:00, weekend 08:00-22:00 (UTC).
-- Weekend period 2 is inactive; its times must still be > 0 (1 and 2).
INSERT INTO equipement_pilote_chauffage_non_asservi (
    id, equipement_pilote_ou_mesure_id,
    prog_semaine_periode_1_confort_actif, prog_semaine_periode_1_confort_heure_debut,
    prog_semaine_periode_1_confort_heure_fin,
    prog_semaine_periode_2_confort_actif, prog_semaine_periode_2_confort_heure_debut,
    prog_semaine_periode_2_confort_heure_fin,
    prog_weekend_periode_1_confort_actif, prog_weekend_periode_1_confort_heure_debut,
    prog_weekend_periode_1_confort_heure_fin,
    prog_weekend_periode_2_confort_actif, prog_weekend_periode_2_confort_heure_debut,
    prog_weekend_periode_2_confort_heure_fin,
    puissance_moyenne_eco, puissance_moyenne_confort, pourcentage_eco_force,
    mesures_puissance_elec_id
) VALUES
    (1, 3,
     true,  21600, 32400,
     true,  61200, 79200,
     true,  28800, 79200,
     false, 1,     2,
     500, 1500, 20, 45003);

-- 4. Home-automation devices ------------------------------------------------------------

INSERT INTO equipement_domotique (
    id, equipement_pilote_ou_mesure_id, equipement_domotique_type_id,
    equipement_domotique_usage_id, id_materiel, marque, utilisateur, utilisateur_affecte,
    equipement_domotique_specifique_id
) VALUES
    ('A101', 1, 111, 11, 'shellyplug-s-A101', 'Shelly',  'R001', true, 1),
    ('A102', 2, 112, 11, 'A102',              'Nous',    'R001', true, 1),
    ('A103', 3, 111, 11, 'shellyplug-s-A103', 'Shelly',  'R001', true, 2),
    ('G101', 1, 711, 71, 'g101',              'M5Stack', 'R001', true, 1);

-- 5. Detail rows (MQTT topics) ----------------------------------------------------------

INSERT INTO equipement_domotique_shellyplugs_shellycloud_v1 (
    id, equipement_domotique_id, topic_mqtt_controle_json, topic_mqtt_commande_text, topic_mqtt_lwt
) VALUES
    (1, 'A101', 'shellies/shellyplug-s-A101/relay/0',
                'shellies/shellyplug-s-A101/relay/0/command',
                'shellies/shellyplug-s-A101/online'),
    (2, 'A103', 'shellies/shellyplug-s-A103/relay/0',
                'shellies/shellyplug-s-A103/relay/0/command',
                'shellies/shellyplug-s-A103/online');

INSERT INTO equipement_domotique_nous_a1t_tasmota_v12 (
    id, equipement_domotique_id, topic_mqtt_controle_json, topic_mqtt_commande_text, topic_mqtt_lwt
) VALUES
    (1, 'A102', 'tele/A102/STATE', 'cmnd/A102/POWER', 'tele/A102/LWT');

INSERT INTO equipement_domotique_m5stackcore2_openhasp_v0 (
    id, equipement_domotique_id, topic_mqtt_controle_json, topic_mqtt_commande_text, topic_mqtt_lwt
) VALUES
    (1, 'G101', 'hasp/g101/state', 'hasp/g101/command/jsonl', 'hasp/g101/LWT');

-- 6. Sequences past the explicit ids ----------------------------------------------------

DO $$
BEGIN
    PERFORM setval(pg_get_serial_sequence('equipement_pilote_ou_mesure', 'id'),
                   (SELECT max(id) FROM equipement_pilote_ou_mesure));
    PERFORM setval(pg_get_serial_sequence('equipement_pilote_machine_generique', 'id'),
                   (SELECT max(id) FROM equipement_pilote_machine_generique));
    PERFORM setval(pg_get_serial_sequence('equipement_pilote_machine_generique_cycle', 'id'),
                   (SELECT max(id) FROM equipement_pilote_machine_generique_cycle));
    PERFORM setval(pg_get_serial_sequence('equipement_pilote_ballon_ecs', 'id'),
                   (SELECT max(id) FROM equipement_pilote_ballon_ecs));
    PERFORM setval(pg_get_serial_sequence('equipement_pilote_ballon_ecs_heures_creuses', 'id'),
                   (SELECT max(id) FROM equipement_pilote_ballon_ecs_heures_creuses));
    PERFORM setval(pg_get_serial_sequence('equipement_pilote_chauffage_non_asservi', 'id'),
                   (SELECT max(id) FROM equipement_pilote_chauffage_non_asservi));
    PERFORM setval(pg_get_serial_sequence('equipement_domotique_shellyplugs_shellycloud_v1', 'id'),
                   (SELECT max(id) FROM equipement_domotique_shellyplugs_shellycloud_v1));
    PERFORM setval(pg_get_serial_sequence('equipement_domotique_nous_a1t_tasmota_v12', 'id'),
                   (SELECT max(id) FROM equipement_domotique_nous_a1t_tasmota_v12));
    PERFORM setval(pg_get_serial_sequence('equipement_domotique_m5stackcore2_openhasp_v0', 'id'),
                   (SELECT max(id) FROM equipement_domotique_m5stackcore2_openhasp_v0));
END
$$;
