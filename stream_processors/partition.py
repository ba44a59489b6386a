"""All the state of one input partition number and the outputs it produces, without any I/O.

A `PartitionProcessor` owns the sessions whose key hashes to partition `p` (of the three
co-partitioned input topics), the partition's watermark, its metric window partials and the last
input offset it applied per topic (the checkpoint). `ingest` stages decoded events;
`advance` moves the watermark and applies what it passed, returning the outputs. The caller
produces the outputs, then persists `dirty_state()` atomically, in that order.
"""

import heapq
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stream_processors.metrics import WindowPartial, window_start_of
from stream_processors.sessions import Session, SessionTiming, use_row_key
from stream_processors.watermark import PartitionWatermark

__all__ = [
    "IDLE",
    "EntryKey",
    "Outputs",
    "PartitionConfig",
    "PartitionProcessor",
    "WindowKey",
    "bound_of_progress",
]

WindowKey = tuple[str, str, int]  # agent_id, agent_version, window_start
EntryKey = tuple[str, str]  # session_id, event_id
IDLE = "idle"  # a partition's metrics bound when it holds no window back


def bound_of_progress(state: Mapping[str, Any] | None) -> int | str | None:
    """What the metrics finalizer reads as a partition's bound from its progress state: no
    window ending after it is final. None (unknown: nothing is final) before any state;
    `IDLE` for a partition that holds nothing back (see `PartitionProcessor.metrics_bound`)."""
    if state is None:
        return None
    frozen = state.get("frozen_before")
    if state.get("idle_empty") and frozen is None:
        return IDLE
    bound: int | str | None = state.get("bound", frozen)
    return bound


@dataclass(frozen=True)
class PartitionConfig:
    """The timing rules, in milliseconds of event time (idle timeout: wall clock)."""

    abandon_after_ms: int
    grace_ms: int
    lateness_ms: int
    idle_timeout_ms: int
    window_ms: int
    sample_size: int
    # How long before the turn it names feedback may be stamped (see `Session.held`).
    lead_ms: int = 60_000
    # How far the watermark passes a metrics window's end before the window closes for this
    # partition: an event arriving after the watermark passed it, within this, still counts
    # in the window of its own event time (see `window_for`).
    window_grace_ms: int = 0
    # The most turns one use of a session id holds: the next turn closes it as `unknown` and
    # begins a new one (an agent that uses one session id for everyone is never quiet).
    max_session_turns: int = 1000

    @property
    def feedback_lead_ms(self) -> int:
        """`lead_ms`, never more than the grace period (held feedback then always resolves
        before its session's state can go or its id be used again)."""
        return min(self.lead_ms, self.grace_ms)


@dataclass
class Outputs:
    """What one `advance` produced, in a deterministic order."""

    enriched: list[dict[str, Any]] = field(default_factory=list)
    # Per enriched record, the message its interaction fields came from (None: not known).
    enriched_messages: list[bytes | None] = field(default_factory=list)
    inferred_signals: list[dict[str, Any]] = field(default_factory=list)
    too_late: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    # Feedback naming a turn its session does not have (dead letter `unknown_interaction`).
    unknown_interaction: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    # Sessions closed at `max_session_turns`: (session id, close time, turns), for the log.
    capped: list[tuple[str, int, int]] = field(default_factory=list)

    def extend(self, other: "Outputs") -> None:
        self.enriched += other.enriched
        self.enriched_messages += other.enriched_messages
        self.inferred_signals += other.inferred_signals
        self.too_late += other.too_late
        self.unknown_interaction += other.unknown_interaction
        self.capped += other.capped

    def __len__(self) -> int:
        return (
            len(self.enriched)
            + len(self.inferred_signals)
            + len(self.too_late)
            + len(self.unknown_interaction)
        )


class PartitionProcessor:
    """Sessions, watermark, window partials and checkpoint of one input partition."""

    def __init__(self, partition: int, config: PartitionConfig, now: float) -> None:
        self.partition = partition
        self.config = config
        self.timing = SessionTiming(
            config.abandon_after_ms,
            config.grace_ms,
            config.window_ms,
            config.feedback_lead_ms,
            config.max_session_turns,
        )
        self.watermark = PartitionWatermark(config.lateness_ms, config.idle_timeout_ms)
        self.watermark.restart(now)
        self.sessions: dict[str, Session] = {}
        self.windows: dict[WindowKey, WindowPartial] = {}
        self.offsets: dict[str, int] = {}
        # Windows ending at or before this are final for this partition: late contributions
        # go to the window holding it instead.
        self.frozen_before: int | None = None
        # Sessions by the event time at which `advance` has something to do for them: a heap,
        # and each session's live entry in it (others are stale: skipped when popped).
        self._due: list[tuple[int, str]] = []
        self._scheduled: dict[str, int] = {}
        self._dirty_sessions: set[str] = set()
        self._dirty_windows: set[WindowKey] = set()
        self._deleted_sessions: set[str] = set()
        self._deleted_windows: set[WindowKey] = set()
        # Staged entries to persist, and persisted ones no session needs any more.
        self._new_entries: dict[EntryKey, dict[str, Any]] = {}
        self._released_entries: set[EntryKey] = set()
        self._progress_dirty = True
        self._created_at = now
        self.idle_empty = False
        # What this partition may still add to metric windows: see `metrics_bound`.
        self.bound: int | str | None = None
        # Windows the finalizer published: late contributions must not go there either
        # (persisted: a partition it passed while idle in memory persists a bound below it).
        self.finalized_until: int | None = None
        # How far the finalizer had published or announced it would when this partition last
        # woke up (persisted: a new owner must not count there either; see "finals").
        self.held_until: int | None = None
        # Whether a bound persisted since the last handshake let the finalizer publish past what
        # this partition may still count (then an event must wait for one); and whether an
        # event is waiting: the runtime must `hold_finals` before the next `advance`.
        self.exposed = False
        self.must_hold_finals = False
        # Late sessions still arriving: the wall-clock time of their last late event (see
        # `_arrived_late`; after a restart, the time of the restart).
        self._arriving: dict[str, float] = {}
        # Sessions holding feedback for the turn it names (`Session.held`): the event time
        # from which its counts are still to come (see `_hold_windows`).
        self._holding: dict[str, int] = {}

    # -- input ---------------------------------------------------------------------------------

    def skip(self, topic: str, offset: int) -> None:
        """Move the checkpoint past a message that was dead-lettered or ignored."""
        self.offsets[topic] = max(offset, self.offsets.get(topic, -1))
        self._progress_dirty = True

    def ingest(
        self,
        topic: str,
        offset: int,
        entry: dict[str, Any],
        now: float,
        sent_at: int | None = None,
    ) -> bool:
        """Stage one decoded event; False when it is a duplicate (same event_id).

        `sent_at` (epoch ms): when it was sent, i.e. its Kafka timestamp, or the worker's clock
        if that is earlier. The watermark counts an event time after it as `sent_at`: an agent
        whose clock runs minutes fast (within the intake's `max_future_skew_s`) moved the
        watermark ahead of every other agent's events, and their sessions were abandoned before
        their next turns arrived. Its own events then wait until real time reaches them.
        """
        self.skip(topic, offset)
        self.idle_empty = False
        record = entry["record"]
        event_time = record["event_time"]
        observed = event_time if sent_at is None or event_time <= sent_at else sent_at
        self.watermark.observe(topic, observed, now)
        session = self.sessions.get(record["session_id"])
        if session is None:
            # Not dirty: a persisted entry without its session's row is a staged event (see
            # Session.to_state); a deleted row of an earlier session of that id stays deleted.
            session = self.sessions[record["session_id"]] = Session(record["session_id"])
        passed = self.watermark.value
        if passed is not None and (event_time < passed or session.behind is not None):
            self._arrived_late(session, passed, now, event_time)
            if event_time < passed:
                self._arriving[session.session_id] = now
        if not session.stage(entry):
            return False
        if self.exposed:
            self.must_hold_finals = True
        key = (session.session_id, record["event_id"])
        self._new_entries[key] = entry
        self._released_entries.discard(key)
        self._schedule(session.session_id, event_time + (session.behind or 0))
        return True

    def _arrived_late(
        self, session: Session, passed: int, now: float, event_time: int | None = None
    ) -> None:
        """An event of a session the watermark has passed (copies included), or of a late
        session: how far behind the watermark the session's own clock runs from now on.

        A late session's events arrive together but spread over steps and topics (a backfill, a
        spool flushed after an outage), or at the pace of an agent whose clock runs behind the
        others'. Applied up to the partition's watermark, its first turn was abandoned at once
        and the rest refused as too late. So it applies nothing while its events arrive (until
        none has for `idle_timeout` of wall clock: `advance`), then follows the watermark at a
        fixed distance, set so that its clock reads, against the watermark projected to now
        (`PartitionWatermark.projected`: the watermark lags live traffic between its steps),
        its latest event time less `idle_timeout` (an event held back on its way for less than
        that is not passed) less the watermark's steps (`idle_timeout` plus `allowed_lateness`:
        measured in a lull, its clock would gain that much on the pace of its events).
        An event on time for the partition ends it. What each term prevents, found by the
        property tests and the probe: docs/semantics.md, "Events that come after the watermark
        passed them".
        """
        latest = session.latest_event_time()
        if event_time is not None and (latest is None or latest < event_time):
            latest = event_time
        if latest is None or latest >= passed:
            session.behind = None
        else:  # applied up to passed - 1 (`advance`): its latest once the watermark moved on
            config = self.config
            steps = config.idle_timeout_ms + config.lateness_ms  # see above
            live = self.watermark.projected(now)
            if live is None:
                live = passed
            session.behind = live - 1 - latest + config.idle_timeout_ms + steps
        self._dirty_sessions.add(session.session_id)

    def _schedule(self, session_id: str, due: int) -> None:
        """Make sure the session's turn comes at event time `due` or earlier."""
        scheduled = self._scheduled.get(session_id)
        if scheduled is None or due < scheduled:
            self._scheduled[session_id] = due
            heapq.heappush(self._due, (due, session_id))

    # -- progress ------------------------------------------------------------------------------

    def advance(
        self, now: float, caught_up: Collection[str] | None = None, expected: Collection[str] = ()
    ) -> Outputs:
        """Move the watermark to wall clock `now` and apply everything it passed.

        `caught_up`: the input topics of this partition read to their end (None: all);
        `expected`: all its input topics (see PartitionWatermark.advance).

        A late session (`_arrived_late`) applies nothing while its events arrive, then
        everything up to the watermark less how far it is behind.
        """
        outputs = Outputs()
        watermark = self.watermark.advance(now, caught_up, expected)
        if watermark is None:
            # Empty and read to the end of every input for a while: does not hold metrics back.
            # Not empty once an event is staged, even before the watermark exists (its first
            # events are held until every topic is known): those events will add to windows.
            idle = (
                not self.sessions
                and now - self._created_at >= self.config.idle_timeout_ms
                and (caught_up is None or set(expected) <= set(caught_up))
            )
            if idle != self.idle_empty:
                self.idle_empty, self._progress_dirty = idle, True
            return outputs
        # Events *at* the watermark can still arrive (another event of that millisecond, further
        # on in a topic): only what is strictly before it is complete (docs/semantics.md).
        watermark -= 1
        closed_until = self._closed_until()
        effects = _Effects(self, outputs)
        config = self.config
        due_heap, scheduled, arriving = self._due, self._scheduled, self._arriving
        waiting: list[tuple[int, str]] = []
        while due_heap and due_heap[0][0] <= watermark:
            due, session_id = heapq.heappop(due_heap)
            if scheduled.get(session_id) != due:
                continue  # a stale entry: the session's live one is elsewhere in the heap
            if arriving:
                arrived = arriving.get(session_id)
                if arrived is not None:
                    if now - arrived < config.idle_timeout_ms:
                        waiting.append((due, session_id))  # the rest of its late events
                        continue
                    del arriving[session_id]
            del scheduled[session_id]
            session = self.sessions[session_id]
            behind = session.behind or 0
            mark = watermark - behind  # the session's own clock (`_arrived_late`)
            if behind:
                next_due = session.next_due(self.timing)
                if next_due is None or next_due > mark:
                    # Scheduled before it fell further behind: not due on its own clock yet.
                    if next_due is not None:
                        self._schedule(session_id, next_due + behind)
                    continue
            released = session.advance(mark, effects, self.timing)
            self._release(session_id, released)
            self._hold_windows(session_id, session, closed_until)
            self._dirty_sessions.add(session_id)
            if session.expired(mark, config.grace_ms):
                self._forget(session_id)
                continue
            next_due = session.next_due(self.timing)
            if next_due is not None:
                # Never again at or below this watermark: that would loop forever.
                self._schedule(session_id, max(next_due + behind, watermark + 1))
        for item in waiting:
            heapq.heappush(due_heap, item)
        closing = watermark - config.window_grace_ms
        frozen = min(closing, *self._holding.values()) if self._holding else closing
        if self.frozen_before != frozen:
            self.frozen_before = frozen
            self._progress_dirty = True
        bound = self.metrics_bound()
        if bound != self.bound:
            self.bound, self._progress_dirty = bound, True
        return outputs

    def _hold_windows(self, session_id: str, session: Session, closed_until: int) -> None:
        """Keep the windows of a session's held feedback open for this partition: it is counted
        (in the window of its own event time) once it is applied, up to `lead_ms` later. From
        no earlier than where they were closed already, so that point never goes back."""
        if not session.held:
            self._holding.pop(session_id, None)
            return
        since = max(min(e["record"]["event_time"] for e in session.held), closed_until)
        held = self._holding.get(session_id)
        self._holding[session_id] = since if held is None else min(held, since)

    def metrics_bound(self) -> int | str | None:
        """Event time before which this partition adds nothing more to metric windows.

        While input may still come: the watermark. When every input is read to its end and
        silent (idle): the earliest pending close or staged event, or "idle" with none, so an
        idle partition does not hold back the other partitions' final metrics.
        """
        if not self.watermark.idle:
            return self.frozen_before
        pending = [
            due
            for session in self.sessions.values()
            for due in (
                min((e["record"]["event_time"] for e in session.staged), default=None),
                session.close_due(self.config.abandon_after_ms),
            )
            if due is not None
        ]
        pending += self._holding.values()
        # Whatever falls before the windows already closed is counted in the earliest open one
        # (`window_for`): a late session far behind holds back no window before that.
        return max(min(pending), self._closed_until()) if pending else IDLE

    # -- finals --------------------------------------------------------------------------------
    #
    # The finalizer (on another worker, perhaps) publishes a window once every partition's
    # bound, as persisted, has passed it. A partition whose persisted bound let windows past its
    # own watermark be published (it was idle), even if it has persisted a busy bound since (it
    # was moved, restarted: `exposed`), and that receives an event must first tell the
    # finalizer, then learn how far it may already have published: `hold_finals`, persist the
    # progress, `finals_held(announced)`, persist again, and only then `advance`. A new owner
    # that loads a partition persisted between the two redoes the handshake; one loaded after it
    # keeps the point read (`held_until`), so what it counts again goes where its last owner
    # counted it. The finalizer announces how far it will publish before it reads the bounds a
    # last time (`MetricsCollector.announce`), so either it sees this partition's new bound or
    # this partition sees its announcement (docs/processor.md, "An idle partition that wakes up").

    def _bound_holds(self, bound: int | str | None) -> bool:
        """Whether the finalizer, reading `bound` for this partition, publishes no window this
        partition may still add to (its contributions go after max(watermark, finalized))."""
        if bound is None:
            return True  # unknown: nothing is published
        if isinstance(bound, str):
            return False  # idle: windows are published whatever this partition holds
        return bound <= self._closed_until()

    def _closed_until(self) -> int:
        """Windows ending at or before this get no contribution (late ones go to the next)."""
        return max(self.frozen_before or 0, self.finalized_until or 0, self.held_until or 0)

    def hold_finals(self) -> None:
        """Make the progress to persist say that this partition holds windows back again, from
        its watermark on (None: all of them, before it has one)."""
        self.bound = self.frozen_before
        self.idle_empty = False
        self._progress_dirty = True

    def finals_held(self, announced_until: int | None) -> None:
        """The held progress is persisted; `announced_until`: how far the finalizer published
        or announced it will, read after that. Late contributions go past it."""
        if announced_until is not None and (
            self.held_until is None or announced_until > self.held_until
        ):
            self.held_until = announced_until
        self.must_hold_finals = self.exposed = False
        self._progress_dirty = True

    def drop_windows_until(self, finalized_until: int) -> None:
        """Forget window partials that the metrics finalizer has published as final."""
        if self.finalized_until is None or finalized_until > self.finalized_until:
            self.finalized_until = finalized_until
            self._progress_dirty = True
        for key in [k for k in self.windows if k[2] + self.config.window_ms <= finalized_until]:
            del self.windows[key]
            self._dirty_windows.discard(key)
            self._deleted_windows.add(key)

    # -- metrics -------------------------------------------------------------------------------

    def window_for(self, agent: tuple[str, str], event_time: int) -> WindowPartial:
        size = self.config.window_ms
        start = window_start_of(event_time, size)
        closed = self._closed_until()
        if start + size <= closed:
            start = window_start_of(closed, size)  # late: the earliest window still open
        key = (agent[0], agent[1], start)
        partial = self.windows.get(key)
        if partial is None:
            partial = self.windows[key] = WindowPartial(self.config.sample_size)
            self._deleted_windows.discard(key)
        self._dirty_windows.add(key)
        return partial

    # -- state ---------------------------------------------------------------------------------

    def erase(self, covers: Callable[[Mapping[str, Any]], bool]) -> tuple[list[str], int]:
        """Remove what an erasure of a user covers from every session (`Session.drop_erased`;
        `covers`: whether the lake's erasure deletes a record, `stream_processors.erasures`):
        a session left with nothing, or whose closed use held a covered turn, is forgotten with
        all its uses, staged events and persisted entries (deleted at the next checkpoint);
        the others keep the rest, and their later outputs are made without what went. Nothing
        is emitted here. The sessions forgotten, and how many others changed."""
        gone: list[str] = []
        changed = 0
        closed_until = self._closed_until()
        for session_id, session in list(self.sessions.items()):
            erased = session.drop_erased(covers)
            self._release(session_id, erased.released)
            if erased.forget:
                self._forget(session_id)
                gone.append(session_id)
            elif erased.changed:
                changed += 1
                self._hold_windows(session_id, session, closed_until)
                self._dirty_sessions.add(session_id)
                due = session.next_due(self.timing)
                if due is not None:  # its activity may end earlier now
                    self._schedule(session_id, due + (session.behind or 0))
        return gone, changed

    def _forget(self, session_id: str) -> None:
        session = self.sessions.pop(session_id)
        self._release(session_id, session.kept_entries())
        # Its earlier uses' rows: those dropped since the last checkpoint, and those it holds
        # (an erasure forgets a session within its earlier uses' grace periods).
        self._deleted_sessions |= session.take_use_changes()[1]
        self._deleted_sessions.update(
            use_row_key(session_id, use.use_key()) for use in session.earlier
        )
        self._scheduled.pop(session_id, None)
        self._arriving.pop(session_id, None)
        self._holding.pop(session_id, None)
        self._dirty_sessions.discard(session_id)
        self._deleted_sessions.add(session_id)

    def _release(self, session_id: str, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            key = (session_id, event_id)
            if self._new_entries.pop(key, None) is None:
                self._released_entries.add(key)

    def progress_state(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark.to_state(),
            "offsets": dict(self.offsets),
            "frozen_before": self.frozen_before,
            "idle_empty": self.idle_empty,
            "bound": self.bound,
            "held_until": self.held_until,
            "finalized_until": self.finalized_until,
            "exposed": self.exposed,
            "holding": self.must_hold_finals,
        }

    def dirty_state(self) -> "StateChanges":
        """What changed since the last call, to persist (and forget about)."""
        if self._progress_dirty and not self._bound_holds(bound_of_progress(self.progress_state())):
            self.exposed = True
        rows: dict[str, dict[str, Any]] = {}
        for sid in self._dirty_sessions:
            session = self.sessions[sid]
            rows[sid] = session.to_state()
            if session.changed_uses or session.dropped_uses:
                written, deleted = session.take_use_changes()
                rows.update(written)
                self._deleted_sessions |= deleted
        changes = StateChanges(
            sessions=rows,
            deleted_sessions=self._deleted_sessions - rows.keys(),
            entries=self._new_entries,
            released_entries=self._released_entries,
            windows={key: self.windows[key].to_state() for key in self._dirty_windows},
            deleted_windows=set(self._deleted_windows),
            progress=self.progress_state() if self._progress_dirty else None,
        )
        self._new_entries, self._released_entries = {}, set()
        self._dirty_sessions.clear()
        self._deleted_sessions.clear()
        self._dirty_windows.clear()
        self._deleted_windows.clear()
        self._progress_dirty = False
        return changes

    @classmethod
    def from_state(
        cls,
        partition: int,
        config: PartitionConfig,
        now: float,
        progress: dict[str, Any] | None,
        sessions: Iterator[dict[str, Any]],
        windows: Iterator[tuple[WindowKey, dict[str, Any]]],
        entries: Mapping[str, Mapping[str, dict[str, Any]]],
    ) -> "PartitionProcessor":
        """Rebuild from persisted state (after an assignment or a restart); `entries`: the
        persisted staged entries by session id, then event id."""
        processor = cls(partition, config, now)
        if progress:
            processor.watermark = PartitionWatermark.from_state(
                progress["watermark"], config.lateness_ms, config.idle_timeout_ms, now
            )
            processor.offsets = dict(progress["offsets"])
            processor.frozen_before = progress.get("frozen_before")
            processor.bound = progress.get("bound")
            processor.held_until = progress.get("held_until")
            processor.finalized_until = progress.get("finalized_until")
            processor.must_hold_finals = bool(progress.get("holding"))
            processor.exposed = bool(progress.get("exposed")) or not processor._bound_holds(
                bound_of_progress(progress)
            )
        rows: dict[str, dict[str, Any]] = {}
        use_rows: dict[str, dict[str, dict[str, Any]]] = {}
        for state in sessions:
            use = state.get("use")  # an earlier use of the session id: `take_use_changes`
            if use is None:
                rows[state["session_id"]] = state
            else:
                use_rows.setdefault(state["session_id"], {})[use] = state
        passed = processor.watermark.value
        for session_id in sorted(rows.keys() | entries.keys()):
            session = Session.from_state(
                rows.get(session_id),
                entries.get(session_id, {}),
                session_id,
                use_rows.get(session_id),
            )
            processor.sessions[session_id] = session
            if (
                session.behind is None
                and passed is not None
                and any(e["record"]["event_time"] < passed for e in session.staged)
            ):
                # Late events staged before the session was persisted as late.
                processor._arrived_late(session, passed, now)
            if session.behind is not None:
                processor._arriving[session_id] = now  # its events may be read again
            processor._hold_windows(session_id, session, processor._closed_until())
            due = session.next_due(processor.timing)
            if due is not None:
                processor._schedule(session_id, due + (session.behind or 0))
        for key, state in windows:
            processor.windows[key] = WindowPartial.from_state(state, config.sample_size)
        processor._progress_dirty = False
        return processor


@dataclass
class StateChanges:
    # Rows by key: a session id (`Session.to_state`), or an earlier use of one
    # (`sessions.use_row_key`, `Session.take_use_changes`).
    sessions: dict[str, dict[str, Any]]
    deleted_sessions: set[str]
    entries: dict[EntryKey, dict[str, Any]]  # new staged entries, by (session id, event id)
    released_entries: set[EntryKey]  # persisted entries no session needs any more
    windows: dict[WindowKey, dict[str, Any]]
    deleted_windows: set[WindowKey]
    progress: dict[str, Any] | None

    def __bool__(self) -> bool:
        return bool(
            self.sessions
            or self.deleted_sessions
            or self.entries
            or self.released_entries
            or self.windows
            or self.deleted_windows
            or self.progress is not None
        )


class _Effects:
    """Routes a session's effects into the partition's windows and the outputs."""

    def __init__(self, processor: PartitionProcessor, outputs: Outputs) -> None:
        self.processor = processor
        self.outputs = outputs

    def enriched(self, record: dict[str, Any], interaction_message: bytes | None) -> None:
        self.outputs.enriched.append(record)
        self.outputs.enriched_messages.append(interaction_message)

    def inferred_signal(self, record: dict[str, Any]) -> None:
        self.outputs.inferred_signals.append(record)

    def count_interaction(self, agent: tuple[str, str], interaction: dict[str, Any]) -> None:
        self.processor.window_for(agent, interaction["event_time"]).add_interaction(interaction)

    def count_session(self, agent: tuple[str, str], closed_at: int, outcome: str) -> None:
        self.processor.window_for(agent, closed_at).add_session(outcome)

    def count_feedback(self, agent: tuple[str, str], feedback: dict[str, Any]) -> None:
        self.processor.window_for(agent, feedback["event_time"]).add_feedback(feedback)

    def count_coverage(self, agent: tuple[str, str], turn_time: int) -> None:
        self.processor.window_for(agent, turn_time).add_covered_interaction()

    def too_late(self, entry: dict[str, Any], message: str) -> None:
        self.outputs.too_late.append((entry, message))

    def unknown_interaction(self, entry: dict[str, Any], message: str) -> None:
        self.outputs.unknown_interaction.append((entry, message))

    def capped(self, session_id: str, closed_at: int, turns: int) -> None:
        self.outputs.capped.append((session_id, closed_at, turns))
