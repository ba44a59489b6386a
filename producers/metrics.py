"""What the producer did, counted: per-client totals for `stats()` and Prometheus counters.

Outcomes: `sent` (accepted into the local queue, replays included), `delivered` (acknowledged by
all in-sync replicas), `failed` (delivery gave up), `spooled` (written to the local spool),
`replayed` (read back from the spool and sent again), `rejected` (invalid input, nothing sent),
`lost` (could not even be spooled, e.g. disk full; logged as an error).
While nothing is in flight: sent == delivered + failed.
"""

import threading
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry, Counter

__all__ = ["OUTCOMES", "ProducerCounters", "ProducerStats"]

OUTCOMES = ("sent", "delivered", "failed", "spooled", "replayed", "rejected", "lost")


@dataclass(frozen=True)
class ProducerStats:
    """A snapshot of one client's counts since it was created."""

    sent: int
    delivered: int
    failed: int
    spooled: int
    replayed: int
    rejected: int
    lost: int
    queue_full_waits: int
    in_queue: int  # librdkafka's outq: messages not yet acknowledged, plus unserved reports


class _Families:
    """The Prometheus metric families of one registry (created once, shared by its clients)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "feedback_producer_events",
            "Events handled by the producer SDK, by topic and outcome.",
            ["topic", "outcome"],
            registry=registry,
        )
        self.queue_full = Counter(
            "feedback_producer_queue_full_waits",
            "Times a log call found the local queue full and had to wait.",
            registry=registry,
        )


_FAMILIES: "WeakKeyDictionary[CollectorRegistry, _Families]" = WeakKeyDictionary()
_FAMILIES_LOCK = threading.Lock()


def _families(registry: CollectorRegistry) -> _Families:
    with _FAMILIES_LOCK:
        families = _FAMILIES.get(registry)
        if families is None:
            families = _FAMILIES[registry] = _Families(registry)
        return families


class ProducerCounters:
    """Thread-safe counts of one client, published to its registry's Prometheus counters.

    The hot path only adds to a dict under a lock; `publish()` (called by the client's delivery
    thread every poll and by `stats()`) moves the increments to Prometheus, so a scrape lags by
    at most one poll interval. Successful deliveries are not reported one by one (librdkafka's
    `delivery.report.only.error`, a few microseconds per event saved): `delivered` is
    `sent - failed - in_queue`, exact whenever it is read, and per topic a lower bound that
    becomes exact once nothing is in flight.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._families = _families(registry if registry is not None else REGISTRY)
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._published: dict[tuple[str, str], int] = {}
        self._queue_full = 0
        self._queue_full_published = 0

    def add(self, outcome: str, topic: str, amount: int = 1) -> None:
        key = (topic, outcome)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + amount

    def queue_full_wait(self) -> None:
        with self._lock:
            self._queue_full += 1

    def get(self, outcome: str) -> int:
        with self._lock:
            return sum(n for (_, kind), n in self._counts.items() if kind == outcome)

    def publish(self, in_queue: int) -> None:
        """Move the increments counted since the last call to the Prometheus counters."""
        with self._lock:
            current = dict(self._counts)
            for topic in {topic for topic, _ in self._counts}:
                delivered = (
                    current.get((topic, "sent"), 0) - current.get((topic, "failed"), 0) - in_queue
                )
                current[(topic, "delivered")] = max(
                    delivered, self._published.get((topic, "delivered"), 0)
                )
            deltas = [
                (key, count - self._published.get(key, 0))
                for key, count in current.items()
                if count > self._published.get(key, 0)
            ]
            self._published.update({key: current[key] for key, _ in deltas})
            queue_full = self._queue_full - self._queue_full_published
            self._queue_full_published = self._queue_full
        for (topic, outcome), delta in deltas:
            self._families.events.labels(topic, outcome).inc(delta)
        if queue_full:
            self._families.queue_full.inc(queue_full)

    def snapshot(self, in_queue: int) -> ProducerStats:
        self.publish(in_queue)
        with self._lock:
            totals = dict.fromkeys(OUTCOMES, 0)
            for (_, outcome), count in self._counts.items():
                totals[outcome] += count
            totals["delivered"] = max(0, totals["sent"] - totals["failed"] - in_queue)
            return ProducerStats(**totals, queue_full_waits=self._queue_full, in_queue=in_queue)
