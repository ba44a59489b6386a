"""How the worker connects to Redis: `redis://` or `rediss://` (TLS), AUTH, the TLS files.

A Redis Cluster: `redis+cluster://host:port,host:port,...` (`rediss+cluster://` for TLS), any
of its nodes; the client learns the others and follows MOVED/ASK and failovers.

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

__all__ = [
    "CLUSTER_SCHEMES",
    "REDIS_SCHEMES",
    "client_options",
    "cluster_nodes",
    "faust_store_url",
    "from_faust_store_url",
    "split_password",
    "unwrap_secrets",
]

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
# All name the same Faust store (stream_processors.redis_store); rediss is Redis over TLS.
REDIS_SCHEMES = ("redis", "rediss", *CLUSTER_SCHEMES)


def cluster_nodes(url: str) -> list[tuple[str, int]] | None:
    """The (host, port) startup nodes of a cluster URL; None for a one-server URL."""
    scheme, _, rest = url.partition("://")
    if scheme not in CLUSTER_SCHEMES:
        return None
    netloc = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    query = rest.partition("?")[2]
    extra = [v for k, _, v in (p.partition("=") for p in query.split("&")) if k == "nodes"]
    nodes = []
    for item in [*netloc.split(","), *",".join(extra).split(",")]:
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{url}: a cluster node must be host:port, not {item!r}")
        nodes.append((host.strip("[]"), int(port)))
    if not nodes:
        raise ValueError(f"{url}: no cluster node")
    return nodes


def faust_store_url(url: str) -> str:
    """`url` in a form Faust's URL parser (yarl) accepts: a cluster's nodes after the first go
    into `?nodes=`; `from_faust_store_url` reverses it. Other URLs are returned unchanged."""
    nodes = cluster_nodes(url)
    if nodes is None or len(nodes) == 1:
        return url
    scheme = url.partition("://")[0]
    first, *others = (f"{host}:{port}" for host, port in nodes)
    return f"{scheme}://{first}/?nodes={','.join(others)}"


def from_faust_store_url(url: str) -> str:
    """The URL `faust_store_url` was given (node list back in the authority)."""
    nodes = cluster_nodes(url)
    if nodes is None:
        return url
    scheme = url.partition("://")[0]
    return f"{scheme}://" + ",".join(f"{host}:{port}" for host, port in nodes)


def split_password(url: str) -> tuple[str, str | None, str | None]:
    """`url` without its credentials, and the username and password it held (or None)."""
    if url.partition("://")[0] in CLUSTER_SCHEMES:
        scheme, _, rest = url.partition("://")
        credentials, at, hosts = rest.rpartition("@")
        if not at:
            return url, None, None
        user, colon, secret = credentials.partition(":")
        return (
            f"{scheme}://{hosts}",
            unquote(user) if user else None,
            unquote(secret) if colon else None,
        )
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
