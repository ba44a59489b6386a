"""The per-partition event-time watermark, which also advances when its inputs go idle.

One input partition number `p` is fed by three topic partitions (interactions, feedback and
signals `p`, co-partitioned). Each is a *source*. The watermark is the minimum over the sources of
what each *holds* it at, minus the allowed lateness (docs/semantics.md, "When the stream decides"):
- a source with unread records (the caller says which are read to their end: consumer position at
  the broker's end offset), or silent for less than `idle_timeout`, holds it at the latest event
  time it has shown;
- a source read to its end and silent for `idle_timeout` holds it at that event time plus the
  wall-clock time it has been silent beyond `idle_timeout`: a sparse topic (feedback) moves the
  watermark at the speed of real time, a backlog read at full speed on the other topics cannot
  run ahead of it by hours (which closed sessions before their signals were read, and dropped
  feedback), and an event its producer or broker held back for less than `idle_timeout` while
  the other topics went on is not passed (a source held at its time plus its whole silence let
  the watermark pass such an event as soon as it had been silent for `idle_timeout`);
- a source that has shown nothing holds it where it is until it has been read to its end for
  `idle_timeout`, counted from the partition's first event at the earliest (a burst into a
  worker that was idle for an hour does not leave behind the topics it reaches a moment later);
  after that, it holds as if it had shown the partition's first event time at that first event
  (after a restart: the restored watermark plus the lateness), so a topic that is never used
  does not block the others, but does not let them run ahead with their own event time either
  (released altogether, it let the watermark pass a partition's first feedback held back for a
  moment while the other topics' event time ran ahead of the wall clock);
- when every source is read to its end and silent for `idle_timeout`, the watermark moves to the
  furthest event time seen (minus lateness), then with the wall clock, so sessions still close
  when traffic stops.
"Silent" counts only wall-clock time in which the source was also known to be read to its end:
after a stretch in which the worker could not look (a step blocked on an unreachable broker), a
source counts as silent from that moment only. Otherwise, when a broker comes back, a topic whose
producer has not resent yet looks long silent, and the watermark passes the events the producer
still holds. Without offset information (`caught_up` None), silence alone is taken as the end.
Events refused at intake (a future `event_time`) are never observed, and the partition observes
an event time no later than when its event was sent (`PartitionProcessor.ingest`). The watermark
never goes back.
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
    _first_event_at: float | None = None  # wall clock of the first event this process saw
    # What a source that has shown nothing holds at once released (see the module docstring).
    _unseen_base: int | None = None
    _moved_at: float | None = None  # wall clock when `value` last moved (see `projected`)

    def observe(self, source: str, event_time: int, now: float) -> None:
        """Record an event of `source` (a topic name) seen at wall clock `now`."""
        if event_time > self.source_max.get(source, event_time - 1):
            self.source_max[source] = event_time
        self._last_seen[source] = now
        if self._first_event_at is None:
            self._first_event_at = now
        if now == self._first_event_at and (
            self._unseen_base is None or event_time < self._unseen_base
        ):
            self._unseen_base = event_time  # the earliest of the partition's first step

    def advance(
        self,
        now: float,
        caught_up: Collection[str] | None = None,
        expected: Collection[str] = (),
    ) -> int | None:
        """Recompute the watermark at wall clock `now`; return it (None before any event).

        `caught_up`: the sources read to their end (None: all of them). `expected`: every
        source of the partition, including those that have shown nothing yet.
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
        if self._first_event_at is None:
            return self.value
        holds: list[float] = []
        all_idle = True
        for source in set(expected) | set(self._last_seen):
            silent = self._silent(source, now, caught_up)
            if source not in self.source_max:
                if silent is None or silent < self.idle_timeout_ms or self._unseen_base is None:
                    return self.value  # its first events may be older than the others'
                holds.append(self._unseen_base + silent - self.idle_timeout_ms)
                continue
            if silent is None:
                holds.append(self.source_max[source])
                all_idle = False
                continue
            if silent < self.idle_timeout_ms:
                holds.append(self.source_max[source])
                all_idle = False
            else:
                holds.append(self.source_max[source] + silent - self.idle_timeout_ms)
        if not holds:
            return self.value
        if all_idle:
            # Every source read to its end and silent: all of it has been seen. Event time
            # moves on with the wall clock.
            self.idle = True
            seen_all = max(self.source_max.values()) - self.lateness_ms
            current = self.value if self.value is not None else seen_all
            elapsed = int(now - last_tick) if was_idle and last_tick is not None else 0
            self._move(max(seen_all, current + elapsed), now)
            return self.value
        candidate = int(min(holds)) - self.lateness_ms
        if self.value is None or candidate > self.value:
            self._move(candidate, now)
        return self.value

    def _move(self, value: int, now: float) -> None:
        if value != self.value:
            self.value, self._moved_at = value, now

    def projected(self, now: float) -> int | None:
        """The watermark plus the wall-clock time since it last moved: where live traffic
        will have taken it by now, though no event has shown it yet.

        The watermark moves in steps: held at a source's latest event while any source is
        busy or silent for less than `idle_timeout`, it lags the live event time by up to the
        spacing of the sparsest on-time traffic, then jumps. Measured against the watermark
        alone, a late session's lag (`PartitionProcessor._arrived_late`) was short by that
        much whenever it was measured in a lull, and its clock passed the next event of a slow
        agent before it arrived. While history is read faster than real time the watermark
        moves every step and this adds next to nothing."""
        if self.value is None or self._moved_at is None:
            return self.value
        return self.value + max(0, int(now - self._moved_at))

    def _silent(self, source: str, now: float, caught_up: Collection[str] | None) -> float | None:
        """Wall-clock ms for which `source` has been read to its end and silent (None: it has
        unread records). For a source that has shown nothing, counted from the partition's
        first event at the earliest."""
        if caught_up is not None and source not in caught_up:
            return None
        seen = self._last_seen.get(source)
        quiet_since = seen if seen is not None else self._first_event_at
        if quiet_since is None:
            quiet_since = now
        if caught_up is not None:
            quiet_since = max(quiet_since, self._caught_up_since.get(source, now))
        return max(0.0, now - quiet_since)

    def silent_for(self, source: str, now: float) -> float:
        """Wall-clock ms since `source` last showed an event (infinite: never)."""
        seen = self._last_seen.get(source)
        return float("inf") if seen is None else now - seen

    def restart(self, now: float) -> None:
        """After loading from state: every known source counts as just seen, and holds at the
        restored watermark plus the lateness at least.

        Before the restart a source that had been silent held the watermark at its time plus
        its silence, which the checkpoint does not keep; restored at its old time, it would
        hold the watermark where it was for as long as it had been silent (a feedback topic
        quiet for an hour: an hour of frozen sessions and metrics after each deploy). Raising
        it to the restored watermark plus the lateness passes no event the worker had not
        already passed."""
        self._last_seen = dict.fromkeys(self.source_max, now)
        self._last_tick = now
        self._moved_at = now
        self._first_event_at = now if self.source_max else None
        if self.value is not None:
            floor = self.value + self.lateness_ms
            for source, seen in self.source_max.items():
                if seen < floor:
                    self.source_max[source] = floor
            self._unseen_base = self.value + self.lateness_ms
        else:
            self._unseen_base = min(self.source_max.values(), default=None)

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
