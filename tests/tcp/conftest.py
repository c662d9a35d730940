"""Fixtures of the real PostgreSQL / Mosquitto tests (defined in tests/site.py)."""

from tests.site import recorder, site

__all__ = ["recorder", "site"]
