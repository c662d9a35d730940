"""Secrets, read where they are used and never stored in the configuration or a message.

MQTT password, first found of:
  1. `$ELFE_MQTT_PASSWORD`;
  2. `mqtt.password_file` (`ELFE_MQTT_PASSWORD_FILE`), a relative path being taken in
     systemd's `$CREDENTIALS_DIRECTORY`;
  3. `$CREDENTIALS_DIRECTORY/mqtt-password` (`LoadCredential=mqtt-password:...` in the unit).
The file holds the password alone; one trailing newline is ignored.

PostgreSQL: the configuration's DSNs never hold a password (protocol/config.py refuses one in
the file and strips the one of `$ELFE_COORDINATION_DSN` / `$ELFE_EMS_DSN`, which are read again
here, where the connection is made). libpq reads the password from `passfile=`, `$PGPASSFILE`,
`~/.pgpass` or `$PGPASSWORD`; when neither `passfile=` nor `$PGPASSFILE` is given and
`$CREDENTIALS_DIRECTORY/pgpass` exists (`LoadCredential=pgpass:...`), the DSN gets
`passfile=` that file.

Every function takes the environment as a parameter; files are read only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from protocol.config import Config, MqttConfig

MQTT_CREDENTIAL = "mqtt-password"
PGPASS_CREDENTIAL = "pgpass"


class SecretError(Exception):
    """A secret that is configured but cannot be read; one line naming the key and the file."""


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def mqtt_password_path(mqtt: MqttConfig, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the MQTT password comes from, when it comes from a file."""
    env = _env(environ)
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if mqtt.password_file:
        path = Path(mqtt.password_file)
        return Path(credentials) / path if credentials and not path.is_absolute() else path
    if credentials and (Path(credentials) / MQTT_CREDENTIAL).is_file():
        return Path(credentials) / MQTT_CREDENTIAL
    return None


def mqtt_password(mqtt: MqttConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The MQTT password (None: connect without one); raises SecretError naming the key."""
    env = _env(environ)
    if "ELFE_MQTT_PASSWORD" in env:
        return env["ELFE_MQTT_PASSWORD"]
    path = mqtt_password_path(mqtt, env)
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise SecretError(f"mqtt.password_file: {path}: cannot be read ({reason})") from None
    return text[:-1] if text.endswith("\n") else text


def postgres_dsn(dsn: str, environ: Mapping[str, str] | None = None) -> str:
    """The DSN to connect with: `passfile=` added from systemd's credentials when the DSN and
    the environment name none."""
    env = _env(environ)
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if not credentials or env.get("PGPASSFILE"):
        return dsn
    passfile = Path(credentials) / PGPASS_CREDENTIAL
    if not passfile.is_file():
        return dsn
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # an invalid DSN fails at connect, in libpq's words
        return dsn
    if "passfile" in params or "password" in params:
        return dsn
    return make_conninfo(dsn, passfile=str(passfile))


def coordination_dsn(config: Config, environ: Mapping[str, str] | None = None) -> str:
    """The coordination database's DSN to connect with."""
    env = _env(environ)
    return postgres_dsn(env.get("ELFE_COORDINATION_DSN") or config.coordination.dsn, env)


def ems_dsn(config: Config, environ: Mapping[str, str] | None = None) -> str:
    """The EMS database's DSN to connect with (the coordination database's by default)."""
    env = _env(environ)
    dsn = env.get("ELFE_EMS_DSN") or config.ems.dsn
    return postgres_dsn(dsn, env) if dsn else coordination_dsn(config, env)


def dsn_has_password(dsn: str) -> bool:
    try:
        return "password" in conninfo_to_dict(dsn)
    except Exception:
        return False


def redact_dsn(dsn: str) -> str:
    """The DSN as it may be shown: host, port, database, user; never the password."""
    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        return "<invalid DSN>"
    shown = [f"{k}={params[k]}" for k in ("host", "port", "dbname", "user") if k in params]
    return " ".join(shown) or "<default libpq settings>"
