"""Fixtures of the real PostgreSQL / Mosquitto tests (defined in tests/site.py)."""

from tests.site import private_broker, recorder, site

__all__ = ["private_broker", "recorder", "site"]
