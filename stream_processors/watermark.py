"""The per-partition event-time watermark, which also advances when its inputs go idle.

One input partition number `p` is fed by three topic partitions (interactions, feedback and
signals `p`, co-partitioned). Each is a *source*. The watermark is the minimum over the sources
that are still active of the maximum event time each has shown, minus the allowed lateness: so a
topic read ahead of the others does not close windows the others still feed. A source read to its
end (the caller says which are caught up: consumer position at the broker's end offset) and silent
for `idle_timeout` of wall clock stops holding the watermark back, so a sparse topic does not
delay the others for longer than that; when every source is in that state, the watermark advances
with the wall clock, so sessions still close when traffic stops. Both conditions are needed:
wall-clock silence alone is not the end (while a backlog is read, one topic can be starved for
seconds by the others), and "read to the end" alone is a race (producers write the three topics
in separate batches, so a session's feedback can be in Kafka a few milliseconds before its
interaction; a topic that showed nothing yet counts from the moment it was first read to its
end). "Silent" counts only wall-clock time in which the source was also known to be read to
its end: after a stretch in which the worker could not look (a step blocked on an unreachable
broker), a source must be read to its end for `idle_timeout` again before it stops holding, and
the idle advance does not count that stretch either. Otherwise, when a broker comes back, a topic
whose producer has not resent yet looks long silent, and the watermark passes the events the
producer still holds. The watermark never goes back.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PartitionWatermark"]


@dataclass
class PartitionWatermark:
    """Event-time progress of one input partition. Times are epoch ms; `now` is wall-clock ms."""

    lateness_ms: int
    idle_timeout_ms: int
    value: int | None = None
    source_max: dict[str, int] = field(default_factory=dict)
    idle: bool = False  # every source read to its end and silent: set by `advance`
    _last_seen: dict[str, float] = field(default_factory=dict)
    _caught_up_since: dict[str, float] = field(default_factory=dict)
    _last_tick: float | None = None

    def observe(self, source: str, event_time: int, now: float) -> None:
        """Record an event of `source` (a topic name) seen at wall clock `now`."""
        if event_time > self.source_max.get(source, event_time - 1):
            self.source_max[source] = event_time
        self._last_seen[source] = now

    def advance(
        self,
        now: float,
        caught_up: Collection[str] | None = None,
        expected: Collection[str] = (),
    ) -> int | None:
        """Recompute the watermark at wall clock `now`; return it (None before any event).

        `caught_up`: the sources read to their end (None: all of them). `expected`: every
        source of the partition; one that has shown nothing yet and is not caught up holds the
        watermark where it is (its first events may be older than the others').
        """
        last_tick, self._last_tick = self._last_tick, now
        was_idle, self.idle = self.idle, False
        if last_tick is not None and now - last_tick > self.idle_timeout_ms:
            # Nothing is known about that stretch (the worker was blocked): start over.
            self._caught_up_since.clear()
            was_idle = False
        if caught_up is not None:
            for source in set(expected) | set(self._last_seen):
                if source in caught_up:
                    self._caught_up_since.setdefault(source, now)
                else:
                    self._caught_up_since.pop(source, None)
            if any(
                source not in self.source_max
                and now - self._caught_up_since.get(source, now) < self.idle_timeout_ms
                for source in expected
            ):
                return self.value
        holding = [
            self.source_max[source]
            for source, seen in self._last_seen.items()
            if source in self.source_max and self._holds_back(source, seen, now, caught_up)
        ]
        if holding:
            candidate = min(holding) - self.lateness_ms
            if self.value is None or candidate > self.value:
                self.value = candidate
        elif self.source_max:
            # Every source read to its end: all of it has been seen. Once all have also been
            # silent for the idle timeout, event time moves on with the wall clock.
            seen_all = max(self.source_max.values()) - self.lateness_ms
            current = self.value if self.value is not None else seen_all
            self.idle = all(now - seen >= self.idle_timeout_ms for seen in self._last_seen.values())
            elapsed = 0
            if self.idle and was_idle and last_tick is not None:
                elapsed = int(now - last_tick)
            self.value = max(seen_all, current + elapsed)
        return self.value

    def _holds_back(
        self, source: str, seen: float, now: float, caught_up: Collection[str] | None
    ) -> bool:
        """A source holds the watermark back until it has been read to its end and silent for
        the idle timeout. Without offset information (caught_up None), silence alone is taken
        as the end."""
        if caught_up is None:
            return now - seen < self.idle_timeout_ms
        if source not in caught_up:
            return True
        quiet_since = max(seen, self._caught_up_since.get(source, now))
        return now - quiet_since < self.idle_timeout_ms

    def silent_for(self, source: str, now: float) -> float:
        """Wall-clock ms since `source` last showed an event (infinite: never)."""
        seen = self._last_seen.get(source)
        return float("inf") if seen is None else now - seen

    def restart(self, now: float) -> None:
        """After loading from state: every known source counts as just seen."""
        self._last_seen = dict.fromkeys(self.source_max, now)
        self._last_tick = now

    def to_state(self) -> dict[str, Any]:
        return {"value": self.value, "source_max": dict(self.source_max)}

    @classmethod
    def from_state(
        cls, state: dict[str, Any], lateness_ms: int, idle_timeout_ms: int, now: float
    ) -> "PartitionWatermark":
        watermark = cls(
            lateness_ms, idle_timeout_ms, state.get("value"), dict(state.get("source_max", {}))
        )
        watermark.restart(now)
        return watermark
