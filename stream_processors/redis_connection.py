"""How the worker connects to Redis: `redis://` or `rediss://` (TLS), AUTH, the TLS files.

The URL says where (`rediss://host:6380/0` for TLS); the password is a `SecretStr` setting of
its own, so that no settings repr, log line or Faust store URL ever shows it. A password written
in the URL (`rediss://:secret@host:6380/0`, the form most hosted Redis services hand out) is
accepted and moved out of it when the settings load (`split_password`).
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import SecretStr

__all__ = ["REDIS_SCHEMES", "client_options", "split_password", "unwrap_secrets"]

# Both name the same Faust store (stream_processors.redis_store); rediss:// is Redis over TLS.
REDIS_SCHEMES = ("redis", "rediss")


def split_password(url: str) -> tuple[str, str | None, str | None]:
    """`url` without its credentials, and the username and password it held (or None)."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return urlunsplit(parts._replace(netloc=netloc)), username, password


def client_options(
    username: str | None,
    password: SecretStr | None,
    ca_certs: Path | None,
    certfile: Path | None,
    keyfile: Path | None,
) -> dict[str, Any]:
    """redis-py keyword arguments for AUTH and TLS files; the password stays a SecretStr until
    `unwrap_secrets`, right where the client is made."""
    options: dict[str, Any] = {}
    if username is not None:
        options["username"] = username
    if password is not None:
        options["password"] = password
    if ca_certs is not None:
        options["ssl_ca_certs"] = str(ca_certs)
    if certfile is not None:
        options["ssl_certfile"] = str(certfile)
    if keyfile is not None:
        options["ssl_keyfile"] = str(keyfile)
    return options


def unwrap_secrets(options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` with every SecretStr replaced by its value (for redis-py)."""
    return {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in options.items()
    }
