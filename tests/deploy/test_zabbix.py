"""The Zabbix template reads only keys the health document has, and is importable (UUIDv4s,
unique; every trigger on an item of the template)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from protocol.health import health

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (ROOT / "deploy" / "zabbix" / "elfe_supervisor_template.yaml").read_text()


def test_uuids_are_unique_v4() -> None:
    found = re.findall(r"uuid: ([0-9a-f]+)\n", TEMPLATE)
    assert len(found) == len(set(found)) > 10
    for text in found:
        assert uuid.UUID(hex=text).version == 4 and len(text) == 32


def test_every_jsonpath_is_a_key_of_the_health_document() -> None:
    keys = set(health(0.0, ping=None))
    paths = re.findall(r"- '\$\.([a-z_]+)'", TEMPLATE)
    assert paths and set(paths) <= keys


def test_triggers_use_items_of_the_template() -> None:
    items = set(re.findall(r"key: (elfe\.supervisor\.[a-z.]+)\n", TEMPLATE))
    used = set(re.findall(r"/ELFE supervisor/(elfe\.supervisor\.[a-z.]+)[,)]", TEMPLATE))
    assert used and used <= items
    macros = set(re.findall(r"macro: '(\{\$[A-Z._]+\})'", TEMPLATE))
    assert set(re.findall(r"\{\$[A-Z._]+\}", TEMPLATE)) <= macros


def test_userparameter_key_is_the_master_item() -> None:
    conf = (ROOT / "deploy" / "zabbix" / "userparameter_elfe_supervisor.conf").read_text()
    assert "UserParameter=elfe.supervisor.health," in conf
    assert "key: elfe.supervisor.health\n" in TEMPLATE
