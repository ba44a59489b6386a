"""Prometheus metrics of long-running processes: the endpoint and the naming convention.

Every process (processor worker, sink, dashboard, an agent using the producer SDK) exposes its
prometheus-client series over HTTP with two lines::

    from plumbing.observability import start_metrics_server
    start_metrics_server(settings.metrics_port, settings.metrics_host)  # port None/0: off

Naming convention: ``feedback_<component>_<what>_<unit>``, lower snake case, for example
``feedback_sink_flush_duration_seconds`` or ``feedback_processor_events_in`` (no unit for plain
counts). prometheus-client appends ``_total`` to counters itself, so never put it in the name.
Units are base units (``seconds``, ``bytes``); ratios end in ``_ratio``. Use labels for the things
that vary (``topic``, ``partition``, ``reason``, ``outcome``), never a name per value.

`counter`, `gauge` and `histogram` build a series that follows the convention and return the one
already registered when called twice with the same name (module reloads, several clients in one
process, tests), instead of prometheus-client's "Duplicated timeseries" error.
"""

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from plumbing.errors import FeedbackPipelineError

__all__ = [
    "COMPONENTS",
    "METRICS_HOST",
    "MetricsServer",
    "ObservabilityError",
    "counter",
    "gauge",
    "histogram",
    "metric_name",
    "start_metrics_server",
]

# The components of the pipeline; a new long-running process adds its name here.
COMPONENTS = ("producer", "processor", "sink", "dashboard", "curation", "monitor", "generator")
# Loopback unless configured (`*_METRICS_HOST`): a container or a remote Prometheus needs
# 0.0.0.0 or a specific interface, and says so.
METRICS_HOST = "127.0.0.1"

_PART = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_UNITS = (
    "seconds",
    "timestamp_seconds",
    "bytes",
    "ratio",
    "messages",
    "records",
    "rows",
    "requests",
    "clients",
)

_Metric = TypeVar("_Metric", Counter, Gauge, Histogram)
_LOCK = threading.Lock()


class ObservabilityError(FeedbackPipelineError):
    """A metric name breaks the convention or the metrics port cannot be opened."""


@dataclass
class MetricsServer:
    """A running /metrics endpoint; `port` is the bound port (useful when 0 asked for any)."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(
    port: int | None,
    host: str = METRICS_HOST,
    registry: CollectorRegistry = REGISTRY,
    *,
    any_port: bool = False,
) -> MetricsServer | None:
    """Serve `registry` at http://host:port/metrics in a daemon thread; None when disabled.

    `port` None or 0 means "no endpoint" (the setting's off switch), unless `any_port` is set,
    when 0 binds a free port (tests).
    """
    if port is None or (port == 0 and not any_port):
        return None
    if not 0 <= port <= 65535:
        raise ObservabilityError(f"metrics port {port} is not a TCP port (1-65535, 0 disables)")
    # Imported here so that processes with the endpoint disabled never import wsgiref machinery.
    from prometheus_client import start_http_server

    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ObservabilityError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
            "choose another port with the service's *_METRICS_PORT variable"
        ) from exc
    return MetricsServer(host, server.server_port, server, thread)


def metric_name(component: str, what: str, unit: str = "") -> str:
    """`feedback_<component>_<what>_<unit>`, checked against the convention."""
    if component not in COMPONENTS:
        raise ObservabilityError(
            f"unknown component {component!r}: use one of {', '.join(COMPONENTS)} "
            "(or add yours to plumbing.observability.COMPONENTS)"
        )
    for label, part in (("what", what), ("unit", unit)):
        if part and not _PART.match(part):
            raise ObservabilityError(f"metric {label} {part!r} must be lower snake case")
    if what.endswith("_total") or unit == "total":
        raise ObservabilityError("do not end a metric name in _total: prometheus-client adds it")
    if unit and unit not in _UNITS:
        raise ObservabilityError(f"unit {unit!r} is not a base unit: use one of {_UNITS}")
    return "_".join(part for part in ("feedback", component, what, unit) if part)


def counter(
    component: str,
    what: str,
    documentation: str,
    labels: Sequence[str] = (),
    unit: str = "",
    registry: CollectorRegistry = REGISTRY,
) -> Counter:
    """A Counter named by the convention (the same object when asked for twice)."""
    return _get_or_create(
        Counter, metric_name(component, what, unit), documentation, labels, registry
    )


def gauge(
    component: str,
    what: str,
    documentation: str,
    labels: Sequence[str] = (),
    unit: str = "",
    registry: CollectorRegistry = REGISTRY,
) -> Gauge:
    """A Gauge named by the convention (the same object when asked for twice)."""
    return _get_or_create(
        Gauge, metric_name(component, what, unit), documentation, labels, registry
    )


def histogram(
    component: str,
    what: str,
    documentation: str,
    labels: Sequence[str] = (),
    unit: str = "seconds",
    buckets: Sequence[float] | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> Histogram:
    """A Histogram named by the convention (the same object when asked for twice)."""
    extra: dict[str, Any] = {"buckets": tuple(buckets)} if buckets is not None else {}
    return _get_or_create(
        Histogram, metric_name(component, what, unit), documentation, labels, registry, **extra
    )


def _get_or_create(
    kind: type[_Metric],
    name: str,
    documentation: str,
    labels: Sequence[str],
    registry: CollectorRegistry,
    **extra: Any,
) -> _Metric:
    with _LOCK:
        # prometheus-client keeps the collector of every exposed name in this mapping.
        existing = registry._names_to_collectors.get(name)
        if existing is None and kind is Counter:
            existing = registry._names_to_collectors.get(name + "_total")
        if existing is not None:
            if not isinstance(existing, kind):
                raise ObservabilityError(
                    f"{name} is already registered as a {type(existing).__name__}"
                )
            if tuple(existing._labelnames) != tuple(labels):
                raise ObservabilityError(
                    f"{name} is already registered with labels {existing._labelnames}"
                )
            return existing
        return kind(name, documentation, labelnames=tuple(labels), registry=registry, **extra)
