"""Prometheus series of a processor worker (`feedback_processor_*`, see plumbing.observability).

docs/observability.md lists every series. Redis round trips are counted where they happen, in
the connection (`CountingRedisConnection`), so that no call site can forget one.
"""

from typing import Any

import redis

from plumbing.observability import counter, gauge, histogram

__all__ = [
    "BATCH_SIZE",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DEGRADED",
    "DUPLICATES",
    "ERASED",
    "EVENTS_IN",
    "MISPLACED_SESSIONS",
    "OUTPUTS",
    "PARTITIONS_OWNED",
    "REDIS_ROUND_TRIPS",
    "STEP_DURATION",
    "WATERMARK",
    "CountingRedisConnection",
]

EVENTS_IN = counter("processor", "events_in", "Input messages handled.", ["topic"])
DUPLICATES = counter("processor", "duplicates", "Input events dropped as duplicates (event_id).")
DEAD_LETTERS = counter("processor", "dead_letters", "Dead letters produced.", ["reason"])
MISPLACED_SESSIONS = counter(
    "processor",
    "misplaced_sessions",
    "Sessions whose events came to a partition their key does not map to (Kafka's murmur2).",
    ["topic"],
)
OUTPUTS = counter("processor", "outputs", "Records produced.", ["topic"])
ERASED = counter(
    "processor",
    "erased",
    "What an erasure in the ledger covered: events dropped on arrival, sessions forgotten.",
    ["what"],
)
STEP_DURATION = histogram(
    "processor",
    "step_duration",
    "Wall time of one processing step (batch or tick), outputs and checkpoint included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
WATERMARK = gauge(
    "processor",
    "watermark",
    "Event-time watermark of an owned partition, as Unix time (event time, not wall clock).",
    ["partition"],
    unit="timestamp_seconds",
)
PARTITIONS_OWNED = gauge("processor", "partitions_owned", "Input partitions this worker owns.")
BATCH_SIZE = histogram(
    "processor",
    "batch",
    "Input events in one processing step (a fetched batch; timer ticks are not counted).",
    unit="records",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
CONSUMER_LAG = gauge(
    "processor",
    "consumer_lag",
    "Input messages not yet processed (high watermark - next offset), by owned partition.",
    ["topic", "partition"],
    unit="messages",
)
REDIS_ROUND_TRIPS = counter(
    "processor",
    "redis_round_trips",
    "Requests sent to Redis: a command's name, or MULTI/EXEC / PIPELINE for a whole pipeline.",
    ["operation"],
)

DEGRADED = gauge(
    "processor",
    "degraded",
    "1 while the worker holds its steps because a dependency is unavailable (its checkpoint "
    "is retried with backoff), else 0.",
    ["dependency"],
)


class CountingRedisConnection(redis.Connection):
    """A redis-py connection that counts every request it sends in REDIS_ROUND_TRIPS.

    A single command goes through `send_command`; a pipeline is packed by `pack_commands` and
    sent in one write, so each is one round trip.
    """

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        REDIS_ROUND_TRIPS.labels(_operation(args[0] if args else "")).inc()
        super().send_command(*args, **kwargs)

    def pack_commands(self, commands: Any) -> Any:
        commands = list(commands)
        first = _operation(commands[0][0]) if commands and commands[0] else ""
        REDIS_ROUND_TRIPS.labels("MULTI/EXEC" if first == "MULTI" else "PIPELINE").inc()
        return super().pack_commands(commands)


def _operation(name: Any) -> str:
    text = name.decode() if isinstance(name, bytes) else str(name)
    return text.split(" ", 1)[0].upper()
