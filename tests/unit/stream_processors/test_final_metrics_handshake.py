"""Property: the final metrics count every event once, whatever the workers do meanwhile.

Two workers share three input partitions; the one owning partition 0 runs the metrics finalizer
(`finalize_round`) and hands it over when partition 0 moves. Partitions go idle and wake up
with events older than what the others have passed (a backfill, a producer that was away), move
between the workers (a rebalance, with or without the old owner's last checkpoint; a worker dies
half-way through the handshake, the finalizer's worker dies before or after its finals went
out), and the other worker's steps run in between the finalizer's reads and writes of the
shared state (here a dict standing for Redis; the runtime does the same calls on
MetricsCollector, tested against Redis in tests/integration and e2e). At the end, the published
final records must hold every interaction, session and thumbs once; a window published twice
(a worker died after sending, before the checkpoint that emptied the outbox) must have the same
record both times.

The worker's part of the handshake (`hold_finals`, persist, `finals_held`, persist, then
`advance`) is the runtime's `_step` order; without it, a woken partition's counts went into
windows already published, and were dropped with their partial (docs/reliability.md, Findings).
So is the finals' outbox: sent only after the checkpoint that persisted them (finalizer.py).
"""

import dataclasses
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_processors.finalizer import MetricsFinalizer
from stream_processors.metrics import WindowPartial
from stream_processors.metrics_round import finalize_round
from stream_processors.partition import (
    PartitionConfig,
    PartitionProcessor,
    WindowKey,
    bound_of_progress,
)
from tests.unit.stream_processors.conftest import EventFactory

CONFIG = PartitionConfig(
    abandon_after_ms=20_000,
    grace_ms=30_000,
    lateness_ms=0,
    idle_timeout_ms=1_000,
    window_ms=10_000,
    sample_size=16,
)
TOPICS = ("interaction", "feedback", "signal")
PARTITIONS = 3


class SharedState:
    """What the workers persist and the finalizer reads (Redis in the runtime)."""

    def __init__(self, config: PartitionConfig) -> None:
        self.config = config
        self.progress: dict[int, dict[str, Any]] = {}
        self.sessions: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.entries: dict[int, dict[str, dict[str, dict[str, Any]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self.windows: dict[int, dict[WindowKey, dict[str, Any]]] = defaultdict(dict)
        self.finalizer: dict[str, Any] = {}  # the finalizer's persisted state
        self.announced: int | None = None
        self.interleave: Callable[[], None] = lambda: None

    def persist(self, processor: PartitionProcessor) -> None:
        p, changes = processor.partition, processor.dirty_state()
        self.sessions[p].update(changes.sessions)
        for session_id in changes.deleted_sessions:
            self.sessions[p].pop(session_id, None)
        for (session_id, event_id), entry in changes.entries.items():
            self.entries[p][session_id][event_id] = entry
        for session_id, event_id in changes.released_entries:
            self.entries[p][session_id].pop(event_id, None)
        self.windows[p].update(changes.windows)
        for key in changes.deleted_windows:
            self.windows[p].pop(key, None)
        if changes.progress is not None:
            self.progress[p] = changes.progress

    def load(self, partition: int, now: float) -> PartitionProcessor:
        return PartitionProcessor.from_state(
            partition,
            self.config,
            now,
            self.progress.get(partition),
            iter(list(self.sessions[partition].values())),
            iter(list(self.windows[partition].items())),
            {sid: dict(events) for sid, events in self.entries[partition].items() if events},
        )

    def published(self) -> int | None:
        return self.finalizer.get("finalized_until")

    # -- MetricsState (stream_processors.metrics_round) --------------------------------------

    def bounds(
        self, processors: Mapping[int, PartitionProcessor]
    ) -> tuple[dict[int, int | str | None], int | None]:
        bounds: dict[int, int | str | None] = {}
        furthest = None
        for p in range(PARTITIONS):
            state = processors[p].progress_state() if p in processors else self.progress.get(p)
            bounds[p] = bound_of_progress(state)
            frozen = state.get("frozen_before") if state else None
            if frozen is not None:
                furthest = frozen if furthest is None else max(furthest, frozen)
        self.interleave()
        return bounds, furthest

    def announce(self, until: int) -> None:
        self.announced = until
        self.interleave()

    def announced_until(self) -> int | None:
        values = [v for v in (self.published(), self.announced) if v is not None]
        return max(values) if values else None

    def partials(
        self,
        processors: Mapping[int, PartitionProcessor],
        finalized_until: int | None,
        max_end: int | None,
    ) -> dict[WindowKey, dict[int, WindowPartial]]:
        size = self.config.window_ms
        partials: dict[WindowKey, dict[int, WindowPartial]] = defaultdict(dict)
        for p in range(PARTITIONS):
            windows = (
                {k: w.to_state() for k, w in processors[p].windows.items()}
                if p in processors
                else self.windows[p]
            )
            for key, state in windows.items():
                if finalized_until is not None and key[2] + size <= finalized_until:
                    continue
                if max_end is None or key[2] + size <= max_end:
                    partials[key][p] = WindowPartial.from_state(state, self.config.sample_size)
        self.interleave()
        return partials


class Simulation:
    """Two workers, the input queues of three partitions, the finalizer on partition 0's owner."""

    def __init__(self, rng: random.Random, config: PartitionConfig) -> None:
        self.rng = rng
        self.config = config
        self.state = SharedState(config)
        self.owner = {0: 0, 1: 1, 2: rng.choice([0, 1])}
        self.processors: list[dict[int, PartitionProcessor]] = [{}, {}]
        self.log: dict[int, dict[str, list[dict[str, Any]]]] = {
            p: {t: [] for t in TOPICS} for p in range(PARTITIONS)
        }
        self.finalizer = MetricsFinalizer(self.config.window_ms, 500.0, self.config.sample_size)
        self.finals: list[dict[str, Any]] = []
        self.too_late: set[str] = set()
        self.now = 0.0
        self.crashes = True
        self.checkpoints = 0.6  # the share of steps that checkpoint

    def deliver(self, partition: int, entry: dict[str, Any]) -> None:
        self.log[partition][entry["kind"]].append(entry)

    def _owned(self, worker: int) -> dict[int, PartitionProcessor]:
        owned = self.processors[worker]
        for p, owner in self.owner.items():
            if owner == worker and p not in owned:
                owned[p] = self.state.load(p, self.now)
        return owned

    def step(self, worker: int) -> None:
        """One worker step, in the runtime's order (ProcessorRuntime._step)."""
        owned = self._owned(worker)
        for p, processor in owned.items():
            for topic in TOPICS:
                start = processor.offsets.get(topic, -1) + 1
                for offset in range(start, len(self.log[p][topic])):
                    processor.ingest(topic, offset, self.log[p][topic][offset], self.now)
        woken = [processor for processor in owned.values() if processor.must_hold_finals]
        for processor in woken:
            processor.hold_finals()
        if woken:
            self.checkpoint(worker)
        if woken and worker != self.owner[0] and self.rng.random() < 0.2:
            for processor in woken:  # dies half-way through the handshake
                self.move(processor.partition, graceful=False)
            return
        for processor in woken:
            processor.finals_held(self.state.announced_until())
        if woken:
            self.checkpoint(worker)
        for processor in owned.values():
            outputs = processor.advance(self.now, TOPICS, TOPICS)
            self.too_late.update(e["record"]["event_id"] for e, _ in outputs.too_late)
        if 0 in owned:
            self.state.interleave = lambda: self._steps_of(1 - worker)
            finalize_round(  # finals go to its outbox; running updates are not checked
                self.finalizer, self.state, owned, self.now, self.rng.random() < 0.3
            )
            self.state.interleave = lambda: None
            finalized_until = self.finalizer.finalized_until
        else:
            finalized_until = self.state.published()
        if finalized_until is not None:
            for processor in owned.values():
                processor.drop_windows_until(finalized_until)
        if 0 in owned and self.crashes and self.rng.random() < 0.05:
            self.crash(worker)  # after the round, before its checkpoint: nothing was sent
            return
        if self.rng.random() < self.checkpoints:  # the checkpoint interval: not every step
            self.checkpoint(worker)
            if 0 in owned:
                sent = self.finalizer.take_outbox()  # persisted: now they may go out
                self.finals += sent
                if sent and self.crashes and self.rng.random() < 0.1:
                    self.crash(worker)  # sent, the emptied outbox not persisted: sent again

    def _steps_of(self, worker: int) -> None:
        for _ in range(self.rng.choice([0, 0, 1, 2])):
            self.step(worker)

    def move(self, partition: int, graceful: bool) -> None:
        """A rebalance: the partition's owner checkpoints everything it holds (the runtime's
        `on_partitions_revoked`), or, if it is not the finalizer's worker, loses the partition
        without (a worker that died; the finalizer's worker dying is `crash`), and the other
        worker loads it from the shared state at its next step; partition 0 takes the
        finalizer, and its persisted state, along."""
        old = self.owner[partition]
        if not graceful and old == self.owner[0]:
            self.crash(old)
            return
        if graceful:
            self.checkpoint(old)
        self.processors[old].pop(partition, None)
        if partition == 0:
            self._reload_finalizer()
        self.owner[partition] = 1 - old

    def checkpoint(self, worker: int) -> None:
        """Persist the worker's partitions and, on the finalizer's worker, the finalizer (one
        MULTI/EXEC in the runtime)."""
        for processor in self.processors[worker].values():
            self.state.persist(processor)
        if self.owner[0] == worker:  # as bytes, as in Redis: a copy, not the live outbox
            self.state.finalizer = orjson.loads(orjson.dumps(self.finalizer.to_state()))

    def crash(self, worker: int) -> None:
        """The finalizer's worker dies: its partitions and the finalizer resume from the
        shared state on the other worker, the finalizer's unsent outbox included."""
        for partition in list(self.processors[worker]):
            del self.processors[worker][partition]
            self.owner[partition] = 1 - worker
        self._reload_finalizer()

    def _reload_finalizer(self) -> None:
        self.finalizer = MetricsFinalizer(
            self.config.window_ms, 500.0, self.config.sample_size, dict(self.state.finalizer)
        )


def _traffic(rng: random.Random) -> list[tuple[int, float, list[dict[str, Any]]]]:
    """Bursts per partition: (partition, wall-clock ms of arrival, entries in event-time order).
    Each partition's event time starts anywhere in the first 200 s, so a partition can wake with
    events far behind what the others have passed."""
    bursts = []
    for p in range(PARTITIONS):
        at = rng.uniform(0, 200)  # event time, seconds
        wall = rng.uniform(0, 3_000)
        for session in range(rng.randint(1, 5)):
            factory = EventFactory(f"p{p}-s{session}")
            entries = []
            for turn in range(rng.randint(1, 3)):
                interaction = factory.interaction(at, turn)
                entries.append(interaction)
                if rng.random() < 0.6:
                    entries.append(
                        factory.feedback(
                            at + rng.uniform(-3, 20),  # some stamped before the turn
                            interaction_id=interaction["record"]["event_id"],
                            thumbs_up=rng.random() < 0.7,
                        )
                    )
                at += rng.uniform(0, 15)
            if rng.random() < 0.7:
                entries.append(factory.signal(at, "task_completed"))
            entries.sort(key=lambda e: e["record"]["event_time"])
            bursts.append((p, wall, entries))
            wall += rng.choice([100.0, 500.0, 2_500.0, 8_000.0])  # some gaps leave it idle
            at += rng.uniform(0, 30)
    return sorted(bursts, key=lambda b: b[1])


def _run(seed: int) -> tuple[Simulation, list[tuple[int, float, list[dict[str, Any]]]]]:
    rng = random.Random(seed)
    bursts = _traffic(rng)
    # Some runs close windows only once the watermark passed them by a grace period.
    sim = Simulation(rng, dataclasses.replace(CONFIG, window_grace_ms=rng.choice([0, 0, 4_000])))
    pending = list(bursts)
    while pending or sim.now < 150_000:
        while pending and pending[0][1] <= sim.now:
            partition, _, entries = pending.pop(0)
            for entry in entries:
                sim.deliver(partition, entry)
        if pending and rng.random() < 0.02:
            sim.move(rng.choice([0, 1, 2]), graceful=rng.random() < 0.5)
        for worker in rng.sample([0, 1], 2):  # each ticks more often than the idle timeout
            sim.step(worker)
        sim.now += rng.choice([100.0, 200.0, 300.0])
    sim.crashes, sim.checkpoints = False, 1.0
    for _ in range(2):  # both workers persist, learn and send the last finals
        sim.step(0)
        sim.step(1)
    return sim, bursts


def _expected(sim: Simulation, bursts: list[tuple[int, float, list[dict[str, Any]]]]) -> Counter:
    totals: Counter = Counter()
    for _, _, entries in bursts:
        for entry in entries:
            record = entry["record"]
            if entry["kind"] == "interaction":
                totals["interactions"] += 1
            elif entry["kind"] == "feedback" and record["event_id"] not in sim.too_late:
                totals["thumbs_up" if record["thumbs_up"] else "thumbs_down"] += 1
        totals["sessions"] += 1
    return totals


def _final_by_window(sim: Simulation) -> dict[tuple[str, str, int], dict[str, Any]]:
    finals: dict[tuple[str, str, int], dict[str, Any]] = {}
    for record in sim.finals:
        window = (record["agent_id"], record["agent_version"], record["window_start"])
        assert finals.setdefault(window, record) == record, f"two different finals of {window}"
    return finals


def _published(sim: Simulation) -> Counter:
    totals: Counter = Counter()
    for record in _final_by_window(sim).values():
        for field in ("interactions", "thumbs_up", "thumbs_down", "sessions"):
            totals[field] += record[field]
    return totals


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_final_metrics_count_every_event_once(seed: int) -> None:
    sim, bursts = _run(seed)
    assert not any(p.sessions for worker in sim.processors for p in worker.values())
    assert _published(sim) == _expected(sim, bursts)
