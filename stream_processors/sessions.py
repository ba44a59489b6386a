"""One session's join: its turns, feedback and signals, when it closes, and its enriched records.

Events are *staged* when they arrive and *applied* only once the partition's watermark has passed
their event time, in the order of docs/semantics.md: event time, then kind (interactions,
feedback, non-terminal signals, terminal signals: ties belong to the session), then event id. So
the outputs depend on the events and their event times, not on how the three input topics
interleaved on the way in: a replay, or a restart after a crash, gives the same records.

Rules (docs/semantics.md):
- activity = the session's interactions and signals; feedback is not activity;
- a terminal signal (task_completed, task_failed, escalated_to_human) closes the session at its
  event time; with none, the session is abandoned at last activity + abandon_after, and an
  `abandoned` signal (source inferred, id uuid5 of the session id and the close) is published;
- on close, one enriched record (revision 0) per turn; feedback applied after the close and at
  most `feedback_grace` after it gives the turns it concerns a new revision; later feedback is
  rejected as `too_late`, and so is a second terminal signal; an interaction or non-terminal
  signal after the close starts a new use of the session id (a conversation resumed after its
  abandonment), and the closed use is kept in `earlier` until its grace period ends, for the
  feedback that names its turns;
- feedback needs a turn at or before its event time; until one is known it *waits* (a turn can
  reach Kafka after its feedback), and is rejected when none can come any more;
- feedback naming a turn the open session does not have yet is *held* for up to `lead_ms` of
  event time: it joins that turn if the turn comes in that time (a client's clock behind the
  agent's stamped it before its turn), and is refused (`unknown_interaction`) otherwise;
- a terminal signal naming such a turn is held the same way, and every later event of the
  session with it: if the turn comes, the signal is applied right after it and closes the
  session at the turn's time; otherwise as any terminal signal;
- an interaction or non-terminal signal ordered before a terminal close but applied after it
  (it came after the watermark passed it) is joined late: the turns get a new revision;
- an interaction met while the open session already has `max_turns` turns first closes it as
  `unknown` at the interaction's time, and begins a new use of the session id (an agent that
  uses one session id for every conversation is never quiet: uncapped, its session never closed,
  produced no record and its state grew without bound).
"""

import heapq
import uuid
from bisect import insort
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from stream_processors.labels import derive_label
from stream_processors.metrics import window_start_of

__all__ = [
    "TERMINAL_OUTCOMES",
    "Session",
    "SessionEffects",
    "SessionTiming",
    "abandoned_signal_id",
    "is_own_abandoned_signal",
    "staged_order",
    "use_row_key",
]

TERMINAL_OUTCOMES = {
    "task_completed": "completed",
    "task_failed": "failed",
    "escalated_to_human": "escalated",
}
_INFERRED_NAMESPACE = uuid.UUID("5b0d4a52-6c7e-4f0e-9a37-2f1f3c0de001")
_FEEDBACK_FIELDS: tuple[str, ...] = (
    "event_id", "event_time", "kind", "thumbs_up", "rating", "correction", "comment", "source",
    "rater_id",
)  # fmt: skip
_INTERACTION_FIELDS = (
    "event_id", "session_id", "turn_index", "agent_id", "agent_version", "model", "event_time",
    "user_id", "prompt", "response", "reasoning", "tools_used", "context", "latency_ms",
    "prompt_tokens", "completion_tokens", "cost_usd", "retry_of", "attachments",
)  # fmt: skip
_INTERACTION_KEYS = frozenset(_INTERACTION_FIELDS)


def abandoned_signal_id(session_id: str, closed_at: int) -> str:
    """Deterministic event id of the inferred `abandoned` signal of a session closed at
    `closed_at` (its event time): each use of a session id gets its own."""
    return str(uuid.uuid5(_INFERRED_NAMESPACE, f"{session_id}/abandoned/{closed_at}"))


def is_own_abandoned_signal(record: Mapping[str, Any]) -> bool:
    """Whether a signal is one the processor inferred (read back from the signals topic): its
    id is the one `abandoned_signal_id` gives, or the one used until 6 Dec (the session id
    alone, shared by every use of the id), so lakes and topics written before still match."""
    if record.get("kind") != "abandoned" or record.get("source") != "inferred":
        return False
    session_id = record["session_id"]
    return record["event_id"] in (
        abandoned_signal_id(session_id, record["event_time"]),
        str(uuid.uuid5(_INFERRED_NAMESPACE, f"{session_id}/abandoned")),
    )


# Rank of each kind of event among events of the same event time (docs/semantics.md).
_RANK_INTERACTION, _RANK_FEEDBACK, _RANK_SIGNAL, _RANK_TERMINAL = 0, 1, 2, 3
_NEVER = 2**63 - 1  # later than any event time


def staged_order(entry: dict[str, Any]) -> tuple[int, int, str]:
    """The order in which a session applies its events: time, kind rank, event id."""
    record = entry["record"]
    kind = entry["kind"]
    if kind == "interaction":
        rank = _RANK_INTERACTION
    elif kind == "feedback":
        rank = _RANK_FEEDBACK
    else:
        rank = _RANK_TERMINAL if record["kind"] in TERMINAL_OUTCOMES else _RANK_SIGNAL
    return (record["event_time"], rank, record["event_id"])


@dataclass(frozen=True)
class SessionTiming:
    """The event-time rules (ms) a session is applied with, from the partition's config:
    inactivity before abandonment, the feedback grace period after the close, the metrics
    window (for feedback coverage), how far before the turn it names feedback may be stamped
    (`held`), and the most turns one use of a session id holds. One object, so each step's
    methods pass the rules on as one."""

    abandon_after_ms: int
    grace_ms: int
    window_ms: int
    lead_ms: int
    max_turns: int = 1000


class SessionEffects(Protocol):
    """What applying events to a session does outside it (metrics, outputs, dead letters)."""

    def enriched(self, record: dict[str, Any], interaction_message: bytes | None) -> None: ...

    def inferred_signal(self, record: dict[str, Any]) -> None: ...

    def count_interaction(self, agent: tuple[str, str], interaction: dict[str, Any]) -> None: ...

    def count_session(self, agent: tuple[str, str], closed_at: int, outcome: str) -> None: ...

    def count_feedback(self, agent: tuple[str, str], feedback: dict[str, Any]) -> None: ...

    def count_coverage(self, agent: tuple[str, str], turn_time: int) -> None: ...

    def too_late(self, entry: dict[str, Any], message: str) -> None: ...

    def unknown_interaction(self, entry: dict[str, Any], message: str) -> None: ...

    def capped(self, session_id: str, closed_at: int, turns: int) -> None: ...


class Erased(NamedTuple):
    """What `Session.drop_erased` removed: whether the session is to be forgotten whole,
    whether anything went, and the event ids of the persisted entries that went."""

    forget: bool
    changed: bool
    released: list[str]


@dataclass
class Session:
    """State of one session; `to_state()` / `from_state()` round-trip it through the table."""

    session_id: str
    agent: tuple[str, str] | None = None
    turns: dict[str, dict[str, Any]] = field(default_factory=dict)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    staged: list[dict[str, Any]] = field(default_factory=list)
    # Feedback applied before any turn at or before its time was known (see `_apply_feedback`).
    waiting: list[dict[str, Any]] = field(default_factory=list)
    # Feedback naming a turn not applied yet, while the session was open (see `_awaits_turn`).
    held: list[dict[str, Any]] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    last_activity: int | None = None
    closed_at: int | None = None
    outcome: str | None = None
    # Event id of the terminal signal that closed the session (None: abandoned, or open).
    closed_by: str | None = None
    revisions: dict[str, int] = field(default_factory=dict)
    # A *late* session (an event of it came after the partition's watermark had passed it)
    # runs on its own clock, this much (ms of event time) behind the partition's watermark:
    # see `PartitionProcessor.advance`. None for a session on time.
    behind: int | None = None
    # The turns' interaction messages as consumed: their bodies open the enriched records'
    # (schemas.extension). Not in `to_state`: restored from the persisted entries.
    turn_messages: dict[str, bytes] = field(default_factory=dict)
    # Earlier uses of the session id, closed and within their grace period: feedback naming
    # one of their turns still revises them (see `_begin_again`). Each is persisted as a row of
    # its own (`take_use_changes`), and keeps the ids of its own events (`seen`).
    earlier: list["Session"] = field(default_factory=list)
    # Earlier uses created or revised, and dropped, since the last checkpoint (by `use_key`).
    changed_uses: set[str] = field(default_factory=set)
    dropped_uses: set[str] = field(default_factory=set)

    # -- arrival -------------------------------------------------------------------------------

    def stage(self, entry: dict[str, Any]) -> bool:
        """Keep an arriving event until the watermark passes it; False for a duplicate."""
        event_id = entry["record"]["event_id"]
        if event_id in self.seen:
            return False
        if self.earlier and any(event_id in use.seen for use in self.earlier):
            return False
        self.seen.add(event_id)
        self.staged.append(entry)
        return True

    # -- timing --------------------------------------------------------------------------------

    def latest_event_time(self) -> int | None:
        """The latest event time the session has shown: staged, applied activity, close or
        joined feedback."""
        times = [e["record"]["event_time"] for e in self.staged]
        times += [e["record"]["event_time"] for e in self.held]
        times += [t for t in (self.last_activity, self.closed_at) if t is not None]
        times += [f["event_time"] for f in self.feedback]
        return max(times, default=None)

    def close_due(self, abandon_after_ms: int) -> int | None:
        """Event time at which an open session is abandoned (None once closed or empty)."""
        if self.closed_at is not None or self.last_activity is None:
            return None
        return self.last_activity + abandon_after_ms

    def next_due(self, timing: SessionTiming) -> int | None:
        """The earliest event time at which `advance` has something to do."""
        due = min([e["record"]["event_time"] for e in self.staged], default=None)
        if self.held:
            held_until = min(e["record"]["event_time"] for e in self.held) + timing.lead_ms
            due = held_until if due is None or held_until < due else due
        if self.earlier:
            ends = min(use.closed_at or 0 for use in self.earlier) + timing.grace_ms
            due = ends if due is None or ends < due else due
        if self.closed_at is not None:
            timer: int | None = self.closed_at + timing.grace_ms  # its feedback grace ends
        elif self.last_activity is None and self.waiting:
            timer = self._waiting_expiry(timing.abandon_after_ms)
        else:
            timer = self.close_due(timing.abandon_after_ms)
        if timer is None:
            return due
        return timer if due is None or timer < due else due

    def _waiting_expiry(self, abandon_after_ms: int) -> int:
        """When feedback of a session without any activity stops waiting for a turn."""
        return min(e["record"]["event_time"] for e in self.waiting) + abandon_after_ms

    def expired(self, watermark: int, grace_ms: int) -> bool:
        """Closed, past its feedback grace, nothing staged or waiting: its state can go."""
        if self.staged or self.waiting or self.held or self.earlier:
            return False
        if self.closed_at is None:
            return self.last_activity is None and not self.turns
        return watermark >= self.closed_at + grace_ms

    # -- applying ------------------------------------------------------------------------------

    def advance(self, watermark: int, effects: SessionEffects, timing: SessionTiming) -> list[str]:
        """Apply the staged events up to `watermark` in order, closing the session when due.

        Held feedback is decided again each time, right after the turn it names if that turn
        is due now (`_in_order`).

        Returns the event ids of the staged entries the session no longer needs (see
        `kept_entries`): those applied as feedback or signals, those dropped as too late, and
        the turns of an earlier use of the session id.
        """
        staged = self.staged
        if all(e["record"]["event_time"] <= watermark for e in staged):
            ready, self.staged = staged, []  # the usual case: everything staged is due
        else:
            ready = [e for e in staged if e["record"]["event_time"] <= watermark]
            self.staged = [e for e in staged if e["record"]["event_time"] > watermark]
        grace_ms, lead_ms = timing.grace_ms, timing.lead_ms
        pending = _in_order(ready, self.held, lead_ms)
        if self.held:
            ready += self.held
            self.held = []
        released: list[str] = []
        limit = watermark  # what this step applies up to: less, behind a held terminal signal
        while pending:
            _, met_open, entry, named_turn_time = heapq.heappop(pending)
            time = entry["record"]["event_time"]
            due = self.close_due(timing.abandon_after_ms)
            if due is not None and due <= time:
                self._close("abandoned", due, None, effects)
            if (
                self.closed_at is not None
                and time > self.closed_at + grace_ms
                and (entry["kind"] != "feedback" or self._names_an_unknown_turn(entry))
            ):
                # Past the closed session's grace period its state is gone (see `expired`):
                # the id meets this event as one never seen, whether or not the state went
                # before it arrived. Feedback naming none of its turns may name a turn that
                # resumes the conversation (it then waits for it); other feedback is
                # `too_late`, decided at once while the state is there.
                released += self._begin_again(effects)
            if named_turn_time is not None and self.closed_at is None:
                # Met while the session is open, naming a turn among these stamped up to
                # `lead_ms` after it: taken right after that turn instead.
                order = staged_order(entry)
                heapq.heappush(pending, ((named_turn_time, *order[1:]), 1, entry, None))
                continue
            if (
                entry["kind"] == "interaction"
                and self.closed_at is None
                and len(self.turns) >= timing.max_turns
            ):
                # The use is full: closed here, and the turn begins the next one (below).
                self._close("unknown", time, None, effects)
                effects.capped(self.session_id, time, len(self.turns))
            # After the close just decided too: a conversation resumed after its abandonment,
            # both passed in one step (a backlog).
            if (
                self.closed_at is not None
                and entry["kind"] != "feedback"
                and not _is_terminal(entry)
                and self._ordered_after_close(entry)
            ):
                released += self._begin_again(effects)
            if entry["kind"] == "feedback" and self._awaits_turn(
                entry, watermark, lead_ms, met_open == 1
            ):
                self.held.append(entry)
                continue
            if _is_terminal(entry) and self._awaits_turn(entry, watermark, lead_ms):
                # It would close the session before the turn it names: it and everything
                # after it wait for that turn (or for `lead_ms` to pass).
                self.held.append(entry)
                self.held += [item[2] for item in sorted(pending, key=_pending_order)]
                limit = time - 1
                break
            self._apply(entry, effects, timing)
        due = self.close_due(timing.abandon_after_ms)
        if due is not None and due <= limit:
            self._close("abandoned", due, None, effects)
        turns = self.turns
        if self.waiting or self.held or self.earlier:
            # An earlier use's turns too: applied in this step before the id was used again,
            # they were released while that use still needed them, and a worker restarted
            # within its grace period could not load the session (found 7 Dec by the probe's
            # restarts reading: KeyError in `from_state`). Looked up per entry: a set of every
            # earlier use's turns, built at each step, cost a session id that is never quiet
            # (hours of uses within their grace period) a millisecond per event.
            waiting = {e["record"]["event_id"] for e in self.waiting + self.held}
            for entry in ready:
                event_id = entry["record"]["event_id"]
                if (
                    event_id not in turns
                    and event_id not in waiting
                    and self._earlier_use_of(event_id) is None
                ):
                    released.append(event_id)
        else:
            released += [
                e["record"]["event_id"] for e in ready if e["record"]["event_id"] not in turns
            ]
        released += self._reject_hopeless(limit, effects, timing)
        if self.earlier:
            released += self._drop_earlier_uses(limit, grace_ms)
        return released

    def _ordered_after_close(self, entry: dict[str, Any]) -> bool:
        """Whether an event comes after the close in the order (an event at the time of an
        abandonment does; of a terminal signal, by kind and id)."""
        assert self.closed_at is not None
        if self.closed_by is None:
            return bool(entry["record"]["event_time"] >= self.closed_at)
        return staged_order(entry) > (self.closed_at, _RANK_TERMINAL, self.closed_by)

    def _drop_earlier_uses(self, watermark: int, grace_ms: int) -> list[str]:
        """Forget the earlier uses whose grace period has ended; returns their turns' ids.

        Their events' ids go with them, as they go with a whole session's state: a session id
        that is never quiet (one id for every conversation, closed at `max_turns`) never
        expires, and its `seen` grew by every event it ever had."""
        released: list[str] = []
        kept = []
        for use in self.earlier:
            if use.closed_at is not None and watermark >= use.closed_at + grace_ms:
                released += list(use.turns)
                # Feedback joined to it after it closed was seen here (see `_begin_again`);
                # so were all its events if it was loaded from a row written before 7 Dec.
                self.seen.difference_update(use.turns)
                self.seen.difference_update(f["event_id"] for f in use.feedback)
                self.seen.difference_update(s["event_id"] for s in use.signals)
                self.dropped_uses.add(use.use_key())
            else:
                kept.append(use)
        self.earlier = kept
        return released

    def _awaits_turn(
        self, entry: dict[str, Any], watermark: int, lead_ms: int, met_open: bool = False
    ) -> bool:
        """Whether feedback or a terminal signal names a turn that the open session may still
        get: one stamped up to `lead_ms` after it (its client's clock ran behind the agent's),
        not applied yet. Applied now, feedback would concern every turn, or be refused for want
        of an earlier one; a terminal signal would close the session before its last turn.
        `met_open`: it was met while the session was open, and held (the session may have
        closed since: the turn then begins a new use of the session id, which it joins)."""
        record = entry["record"]
        target = record.get("interaction_id")
        return (
            (self.closed_at is None or met_open)
            and target is not None
            and target not in self.turns
            and watermark < record["event_time"] + lead_ms
            and self._earlier_use_of(target) is None
        )

    def _names_an_unknown_turn(self, entry: dict[str, Any]) -> bool:
        target = entry["record"].get("interaction_id")
        return (
            target is not None and target not in self.turns and self._earlier_use_of(target) is None
        )

    def _earlier_use_of(self, turn_id: Any) -> "Session | None":
        for use in self.earlier:
            if turn_id in use.turns:
                return use
        return None

    def _reject_hopeless(
        self, watermark: int, effects: SessionEffects, timing: SessionTiming
    ) -> list[str]:
        """Dead-letter what can no longer join: past the grace period, waiting feedback;
        without any activity, feedback that waited `abandon_after`. (Staged feedback is decided
        when the watermark passes it: the session id may be used again before it.)"""
        released: list[str] = []
        abandon_after_ms = timing.abandon_after_ms
        if self.closed_at is not None and watermark >= self.closed_at + timing.grace_ms:
            message = f"session {self.session_id} closed at {self.closed_at}"
            hopeless, self.waiting = self.waiting, []
        elif (
            self.closed_at is None
            and self.last_activity is None
            and self.waiting
            and watermark >= self._waiting_expiry(abandon_after_ms)
        ):
            message = f"no interaction of session {self.session_id} is known"
            waiting, hopeless, self.waiting = self.waiting, [], []
            for entry in waiting:
                late = entry["record"]["event_time"] + abandon_after_ms <= watermark
                (hopeless if late else self.waiting).append(entry)
        else:
            return released
        for entry in sorted(hopeless, key=staged_order):
            effects.too_late(entry, message)
            released.append(entry["record"]["event_id"])
        return released

    def _begin_again(self, effects: SessionEffects) -> list[str]:
        """An interaction or non-terminal signal after the close: the session id is used again (a
        conversation resumed after its abandonment, a task begun after the last one completed).
        The finished use's outputs are out; it is kept in `earlier`, with its turns, for the
        feedback that names them during its grace period; the ids seen stay here (a redelivered
        old event is still a duplicate). Returns the event ids it released."""
        released: list[str] = []
        for entry in sorted(self.waiting, key=staged_order):
            effects.too_late(entry, f"no interaction of session {self.session_id} is known")
            released.append(entry["record"]["event_id"])
        if self.turns:
            use = Session(
                session_id=self.session_id,
                agent=self.agent,
                turns=self.turns,
                feedback=self.feedback,
                signals=self.signals,
                covered=self.covered,
                last_activity=self.last_activity,
                closed_at=self.closed_at,
                outcome=self.outcome,
                closed_by=self.closed_by,
                revisions=self.revisions,
                turn_messages=self.turn_messages,
            )
            # The use keeps its own events' ids (a copy sent again is still a duplicate) and
            # writes them with its row, once: in `seen` here, a session id that is never
            # quiet rewrote every id of its grace period at each checkpoint.
            use.seen = set(self.turns)
            use.seen.update(f["event_id"] for f in self.feedback)
            use.seen.update(s["event_id"] for s in self.signals)
            self.seen.difference_update(use.seen)
            self.earlier.append(use)
            self.changed_uses.add(use.use_key())
        self.waiting = []
        self._clear_use()
        return released

    def _clear_use(self) -> None:
        """Leave the current use empty, as before its first event (`earlier` kept)."""
        self.agent, self.closed_at, self.outcome, self.closed_by = None, None, None, None
        self.last_activity = None
        self.turns, self.turn_messages, self.revisions = {}, {}, {}
        self.feedback, self.signals = [], []
        self.covered = set()

    def _apply(self, entry: dict[str, Any], effects: SessionEffects, timing: SessionTiming) -> None:
        kind, record = entry["kind"], entry["record"]
        if kind == "feedback":
            self._apply_feedback(entry, effects, timing)
            return
        if self.closed_at is not None:
            # A terminal signal after the close (a second one); or an event ordered before the
            # close that came after it (late).
            if self.closed_by is not None and not self._ordered_after_close(entry):
                self._join_late(entry, effects, timing)
            else:
                effects.too_late(entry, f"session {self.session_id} closed at {self.closed_at}")
            return
        time = record["event_time"]
        self.last_activity = time if self.last_activity is None else max(self.last_activity, time)
        if kind == "interaction":
            self._add_turn(entry, effects, timing.window_ms)
            if self.waiting:
                self._retry_waiting(effects, timing)
            return
        insort(self.signals, _joined_signal(record), key=_joined_order)
        if record["kind"] in TERMINAL_OUTCOMES:
            target = record.get("interaction_id")
            named = self.turns.get(target)
            if named is None and self.earlier:
                # The turn it waited for filled the use before this one (`max_turns`), and a
                # turn of the same millisecond began this one.
                use = self._earlier_use_of(target)
                named = use.turns[target] if use is not None else None
            if named is not None and named["event_time"] > time:
                time = named["event_time"]  # it waited for that turn: closes after it
            self._close(TERMINAL_OUTCOMES[record["kind"]], time, record["event_id"], effects)

    def _add_turn(self, entry: dict[str, Any], effects: SessionEffects, window_ms: int) -> None:
        record = entry["record"]
        agent = _agent_of(record)  # a turn counts for its own agent (a handoff, a deploy)
        if self.agent is None:
            self.agent = agent  # the session's: its outcome and session-level feedback
        turn_id = record["event_id"]
        self.turns[turn_id] = _turn(record)
        if entry.get("value") is not None:
            self.turn_messages[turn_id] = entry["value"]
        effects.count_interaction(agent, record)
        if self.feedback:
            # Session-level feedback earlier in the order covers a turn of its window too.
            window_end = window_start_of(record["event_time"], window_ms) + window_ms
            for item in self.feedback:
                if item["interaction_id"] is None and item["event_time"] < window_end:
                    self.covered.add(turn_id)
                    effects.count_coverage(agent, record["event_time"])
                    break

    def _join_late(
        self, entry: dict[str, Any], effects: SessionEffects, timing: SessionTiming
    ) -> None:
        """An interaction or signal ordered before the terminal close, applied after it (it
        came after the watermark had passed it): join it, and revise every turn."""
        record = entry["record"]
        if entry["kind"] == "signal" and record["kind"] in TERMINAL_OUTCOMES:
            effects.too_late(
                entry,
                f"terminal signal before the close of session {self.session_id} at "
                f"{self.closed_at}, which was decided before it arrived",
            )
            return
        assert self.closed_at is not None and self.outcome is not None
        time = record["event_time"]
        self.last_activity = time if self.last_activity is None else max(self.last_activity, time)
        if entry["kind"] == "signal":
            insort(self.signals, _joined_signal(record), key=_joined_order)
            if self.agent is None:
                return
        else:
            first = self.agent is None
            self._add_turn(entry, effects, timing.window_ms)
            assert self.agent is not None
            if first:
                effects.count_session(self.agent, self.closed_at, self.outcome)
        for turn_id in self.turns:
            self.revisions[turn_id] = self.revisions.get(turn_id, -1) + 1
        for enriched in self.enriched_records(self.turns):
            effects.enriched(enriched, self.turn_messages.get(enriched["event_id"]))
        if entry["kind"] == "interaction" and self.waiting:
            self._retry_waiting(effects, timing)

    def _retry_waiting(self, effects: SessionEffects, timing: SessionTiming) -> None:
        """A turn was added: feedback waiting for one at or before its time may join now."""
        waiting, self.waiting = self.waiting, []
        for entry in sorted(waiting, key=staged_order):
            self._apply_feedback(entry, effects, timing)

    def _apply_feedback(
        self, entry: dict[str, Any], effects: SessionEffects, timing: SessionTiming
    ) -> None:
        """Join feedback, refuse it, or keep it waiting for a turn at or before its time.

        A turn it names counts only if stamped at most `lead_ms` after it (taken right after
        that turn: see `_awaits_turn`): a turn further ahead is not "before it" even once
        applied (until 7 Dec feedback waiting for a turn joined any turn it named when that
        turn came, however much later: with `feedback_grace_s` 0, so no lead, 19% of random
        cases differed from the reference)."""
        record = entry["record"]
        time = record["event_time"]
        target = record.get("interaction_id")
        grace_ms, window_ms = timing.grace_ms, timing.window_ms
        if self.earlier and target is not None and target not in self.turns:
            use = self._earlier_use_of(target)
            if use is not None and use.closed_at is not None and time <= use.closed_at + grace_ms:
                # It names a turn of an earlier use, within that use's grace period.
                use._apply_feedback(entry, effects, timing)
                self.changed_uses.add(use.use_key())
                return
        if self.earlier and target is not None and target not in self.turns:
            use = self._use_current_at(entry)
            if use is not None:
                # Held for a turn that never came while this use began: the use of the
                # session id current at its place in the order decides it.
                use._refuse(entry, effects, grace_ms)
                return
        if self.closed_at is not None and time > self.closed_at + grace_ms:
            effects.too_late(
                entry,
                f"feedback {time - self.closed_at} ms after session "
                f"{self.session_id} closed; grace is {grace_ms} ms",
            )
            return
        named_turn = self.turns.get(target) if target is not None else None
        named = named_turn is not None and named_turn["event_time"] <= time + timing.lead_ms
        if not named and not any(t["event_time"] <= time for t in self.turns.values()):
            self.waiting.append(entry)  # no turn at or before it yet: one may still come
            return
        if target is not None and not named:
            # It names a turn the session does not have (a client's own message id, a turn
            # of another session): applied to every turn, a thumbs-down on one answer marked
            # them all (docs/semantics.md).
            effects.unknown_interaction(
                entry,
                f"names interaction {target}, not a turn of session {self.session_id} before it",
            )
            return
        assert self.agent is not None
        joined = {k: record.get(k) for k in _FEEDBACK_FIELDS}
        # Turn-level when it names a turn applied before it, session-level when it names none.
        joined["interaction_id"] = target
        insort(self.feedback, joined, key=_joined_order)
        # On a turn: for that turn's agent; on the session: for the session's.
        owner = _agent_of(named_turn) if named_turn is not None and named else self.agent
        effects.count_feedback(owner, record)
        affected = [target] if joined["interaction_id"] is not None else list(self.turns)
        for turn_id in affected:
            if turn_id in self.covered:
                continue
            turn = self.turns[turn_id]
            turn_time = turn["event_time"]
            if time < window_start_of(turn_time, window_ms) + window_ms:
                self.covered.add(turn_id)
                effects.count_coverage(_agent_of(turn), turn_time)
        if self.closed_at is not None:
            for turn_id in affected:
                self.revisions[turn_id] = self.revisions.get(turn_id, 0) + 1
            for enriched in self.enriched_records(affected):
                effects.enriched(enriched, self.turn_messages.get(enriched["event_id"]))

    def _use_current_at(self, entry: dict[str, Any]) -> "Session | None":
        """The earlier use of the session id that was current at this entry's place in the
        order, when this use began after it (None: this use, or none had begun)."""
        order = staged_order(entry)[:2]
        if self._first_activity() < order:
            return None
        current = None
        for use in self.earlier:
            if use._first_activity() < order:
                current = use
        return current

    def _first_activity(self) -> tuple[int, int]:
        """(time, kind rank) of this use's first interaction or non-terminal signal."""
        first = [(t["event_time"], _RANK_INTERACTION) for t in self.turns.values()]
        # A terminal signal keeps its own time, which may precede the turn it waited for.
        first += [
            (s["event_time"], _RANK_SIGNAL)
            for s in self.signals
            if s["kind"] not in TERMINAL_OUTCOMES
            and not (s["kind"] == "abandoned" and s["source"] == "inferred")
        ]
        return min(first, default=(_NEVER, _RANK_INTERACTION))

    def _refuse(self, entry: dict[str, Any], effects: SessionEffects, grace_ms: int) -> None:
        """Refuse feedback naming no turn of this (earlier) use, as if applied in order."""
        time = entry["record"]["event_time"]
        if self.closed_at is not None and time > self.closed_at + grace_ms:
            effects.too_late(
                entry,
                f"feedback {time - self.closed_at} ms after session "
                f"{self.session_id} closed; grace is {grace_ms} ms",
            )
        elif not any(t["event_time"] <= time for t in self.turns.values()):
            effects.too_late(entry, f"no turn of session {self.session_id} before the feedback")
        else:
            target = entry["record"].get("interaction_id")
            effects.unknown_interaction(
                entry,
                f"names interaction {target}, not a turn of session {self.session_id} before it",
            )

    def _close(
        self, outcome: str, closed_at: int, closed_by: str | None, effects: SessionEffects
    ) -> None:
        self.closed_at, self.outcome, self.closed_by = closed_at, outcome, closed_by
        if self.agent is None:
            return  # signals without any turn: nothing to label or count
        if outcome == "abandoned":
            signal = {
                "event_id": abandoned_signal_id(self.session_id, closed_at),
                "session_id": self.session_id,
                "interaction_id": None,
                "event_time": closed_at,
                "kind": "abandoned",
                "source": "inferred",
                "detail": f"no activity for {closed_at - (self.last_activity or 0)} ms",
            }
            self.seen.add(str(signal["event_id"]))
            insort(self.signals, _joined_signal(signal), key=_joined_order)
            effects.inferred_signal(signal)
        effects.count_session(self.agent, closed_at, outcome)
        for turn_id in self.turns:
            self.revisions[turn_id] = 0
        for enriched in self.enriched_records(self.turns):
            effects.enriched(enriched, self.turn_messages.get(enriched["event_id"]))

    # -- output --------------------------------------------------------------------------------

    def enriched_records(self, turn_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The `agentfeedback.enriched.EnrichedInteraction` records of some turns, as of now.

        Feedback and signals are kept in (event_time, event_id) order, so each turn's share of
        them is in that order too. Feedback is turn-level when it named a turn of the session
        when it was applied (`interaction_id` kept), session-level otherwise (None).
        """
        assert self.closed_at is not None and self.outcome is not None
        turns = self.turns
        retried = {t.get("retry_of") for t in turns.values()}
        retried.update(s["interaction_id"] for s in self.signals if s["kind"] == "retried")
        shown = []
        for item in self.feedback:
            item_shown = {k: v for k, v in item.items() if k != "interaction_id"}
            item_shown["session_level"] = item["interaction_id"] is None
            shown.append(item_shown)
        records = []
        for turn_id in turn_ids:
            feedback_shown = [
                shown[index]
                for index, item in enumerate(self.feedback)
                if item["interaction_id"] == turn_id or shown[index]["session_level"]
            ]
            label = derive_label(feedback_shown, self.outcome, turn_id in retried)
            records.append(
                {
                    **turns[turn_id],
                    "revision": self.revisions[turn_id],
                    "session_outcome": self.outcome,
                    "session_closed_at": self.closed_at,
                    "session_turns": len(turns),
                    "feedback": feedback_shown,
                    "signals": [s for s in self.signals if s["interaction_id"] in (None, turn_id)],
                    "reward": label.reward,
                    "reward_source": label.source,
                    "reward_confidence": label.confidence,
                    "corrected_response": label.corrected_response,
                }
            )
        return records

    # -- state ---------------------------------------------------------------------------------

    def use_key(self) -> str:
        """The key of an earlier use's row: its first turn's event id (a turn belongs to one
        use of its session id; close times can be shared)."""
        return next(iter(self.turns))

    def take_use_changes(self) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """The rows of earlier uses to write, and to delete, since the last call (by row key,
        `use_row_key`). Each earlier use is a row of its own, written when it is created or
        revised: in the session's row, a session id that is never quiet (closed at
        `max_turns`) rewrote every use of its grace period at each checkpoint."""
        written: dict[str, dict[str, Any]] = {}
        if self.changed_uses:
            for use in self.earlier:
                key = use.use_key()
                if key in self.changed_uses:
                    written[use_row_key(self.session_id, key)] = {**use.to_state(), "use": key}
        deleted = {use_row_key(self.session_id, key) for key in self.dropped_uses}
        self.changed_uses, self.dropped_uses = set(), set()
        return written, deleted - written.keys()

    def drop_erased(self, covers: Callable[[Mapping[str, Any]], bool]) -> "Erased":
        """Remove from every use of the session id what an erasure covers: `covers` tells, per
        record, whether the lake's erasure deletes it (`ProcessorErasures.covers_record`).

        A closed use holding a covered turn goes whole (its outputs are out); the other uses
        of the id stay. The open use loses its covered turns; its other users' turns stay and
        are enriched at its close without the erased user's events, as a replay, which never
        sees them, enriches them: feedback it had joined to the turns that went (or to the
        session, when only they were before it) goes too; still to be applied, it is refused as
        in a replay. Covered feedback and signals (an erased user's feedback anywhere; what
        names nobody in a session the ledger names) leave every use, applied, staged, waiting
        or held.

        The session is to be forgotten whole when no turn is left but covered ones (what names
        nobody in it is the erased user's too), or nothing is left.
        """
        session_id = self.session_id

        def nameless(item: Mapping[str, Any]) -> bool:
            """Joined feedback and signals keep no session id; they name no user."""
            return covers({"session_id": session_id, "rater_id": item.get("rater_id")})

        released: list[str] = []
        uses = []
        for use in self.earlier:
            if any(covers(t) for t in use.turns.values()):
                released.extend(use.turns)
                self.dropped_uses.add(use.use_key())
            else:
                uses.append(use)
        self.earlier = uses
        covered_turns = [tid for tid, turn in self.turns.items() if covers(turn)]
        if covered_turns and self.closed_at is not None:
            released.extend(self.turns)
            self._clear_use()
        elif covered_turns:
            for turn_id in covered_turns:
                del self.turns[turn_id]
                self.turn_messages.pop(turn_id, None)
                self.covered.discard(turn_id)
                released.append(turn_id)
            # Feedback joined to the turns that went, or to the session when only they were
            # before it, joins nothing now: a replay refuses it (`_apply_feedback`).
            self.feedback = [f for f in self.feedback if self._joins_a_turn(f)]
        turns_went = bool(released)
        for entries in (self.staged, self.waiting, self.held):
            left = [e for e in entries if not covers(e["record"])]
            if len(left) != len(entries):
                for entry in entries:
                    if covers(entry["record"]):
                        released.append(entry["record"]["event_id"])
                        turns_went = turns_went or entry["kind"] == "interaction"
                entries[:] = left
        changed = bool(released)
        for use in (self, *self.earlier):
            feedback = [f for f in use.feedback if not nameless(f)]
            signals = [s for s in use.signals if not nameless(s)]
            if len(feedback) != len(use.feedback) or len(signals) != len(use.signals):
                use.feedback, use.signals, changed = feedback, signals, True
                if use is not self:
                    self.changed_uses.add(use.use_key())
        if not changed:
            return Erased(forget=False, changed=False, released=released)
        if self.closed_at is None:
            # The open use as if the covered events had never come: its activity and agent.
            times = [t["event_time"] for t in self.turns.values()]
            times += [s["event_time"] for s in self.signals]
            self.last_activity = max(times, default=None)
            first = next(iter(self.turns.values()), None)
            self.agent = _agent_of(first) if first is not None else None
            held = self.feedback or self.earlier or self.staged or self.waiting or self.held
            if not (times or held):
                return Erased(forget=True, changed=True, released=released)
        # It held the erased user's turns only: what names nobody in it is theirs too.
        forget = turns_went and not self._has_turns()
        return Erased(forget=forget, changed=True, released=released)

    def _joins_a_turn(self, feedback: Mapping[str, Any]) -> bool:
        """Whether applied feedback still has its turn: the one it names, or for feedback on the
        session, a turn at or before it."""
        target = feedback["interaction_id"]
        if target is not None:
            return target in self.turns
        return any(t["event_time"] <= feedback["event_time"] for t in self.turns.values())

    def _has_turns(self) -> bool:
        """Whether any use holds a turn, applied or staged."""
        if self.turns or any(use.turns for use in self.earlier):
            return True
        return any(e["kind"] == "interaction" for e in self.staged)

    def kept_entries(self) -> set[str]:
        """Event ids whose staged entries the session still needs: its turns, staged events and
        waiting feedback.

        Their payloads (prompt, response, context...) are persisted once each, apart from the
        session (`to_state` names them by id), so saving a session does not re-serialise them.
        """
        kept = set(self.turns).union(e["record"]["event_id"] for e in self.staged)
        kept.update(turn_id for use in self.earlier for turn_id in use.turns)
        return kept.union(e["record"]["event_id"] for e in self.waiting + self.held)

    def to_state(self) -> dict[str, Any]:
        """Everything but the kept entries' payloads (see `kept_entries`) and the staged events:
        every persisted entry that is not a turn is staged (`from_state`), so staging an event
        persists its entry only, not the session again. Waiting feedback is staged again too:
        applying it once more makes it wait again. Held feedback is named (`held`): staged
        again, it would look late."""
        return {
            "session_id": self.session_id,
            "agent": list(self.agent) if self.agent else None,
            "turns": list(self.turns),
            "feedback": self.feedback,
            "signals": self.signals,
            "seen": sorted(self.seen),
            "covered": sorted(self.covered),
            "last_activity": self.last_activity,
            "closed_at": self.closed_at,
            "outcome": self.outcome,
            "closed_by": self.closed_by,
            "revisions": self.revisions,
            "behind": self.behind,
            "held": [e["record"]["event_id"] for e in self.held],
            "earlier_uses": [use.use_key() for use in self.earlier],
        }

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any] | None,
        entries: Mapping[str, dict[str, Any]],
        session_id: str,
        uses: Mapping[str, dict[str, Any]] | None = None,
    ) -> "Session":
        """Rebuild from `to_state()` (None: a session only staged so far), the rows of its
        earlier uses by `use_key` (`take_use_changes`) and the persisted entries by event id:
        the turns' (of every use), the held feedback's, and every other one is staged."""
        if state is None:
            state = cls(session_id).to_state()
        session = cls._use_from_state(state, entries)
        inline = state.get("earlier")
        if inline:
            # Written before 7 Dec, inside the session's row: rows of their own from now on.
            session.earlier = [cls._use_from_state(s, entries) for s in inline]
            session.changed_uses = {use.use_key() for use in session.earlier}
        elif state.get("earlier_uses"):
            rows = uses or {}
            session.earlier = [cls._use_from_state(rows[k], entries) for k in state["earlier_uses"]]
        held_ids = state.get("held") or []
        taken = set(held_ids).union(session.kept_entries())
        used = {eid for use in session.earlier for eid in use.seen}
        session.seen = set(state["seen"]).union(eid for eid in entries if eid not in used)
        session.staged = [e for eid, e in entries.items() if eid not in taken]
        session.held = [entries[eid] for eid in held_ids if eid in entries]
        session.behind = state.get("behind")
        return session

    @classmethod
    def _use_from_state(
        cls, state: dict[str, Any], entries: Mapping[str, dict[str, Any]]
    ) -> "Session":
        """One use's joined state: turns, feedback, signals, close, revisions."""
        turns = {tid: _turn(entries[tid]["record"]) for tid in state["turns"]}
        return cls(
            session_id=state["session_id"],
            agent=(state["agent"][0], state["agent"][1]) if state["agent"] else None,
            turns=turns,
            feedback=sorted(state["feedback"], key=_joined_order),
            signals=sorted(state["signals"], key=_joined_order),
            covered=set(state["covered"]),
            last_activity=state["last_activity"],
            closed_at=state["closed_at"],
            outcome=state["outcome"],
            closed_by=state.get("closed_by"),
            revisions=state["revisions"],
            seen=set(state["seen"]) if state.get("use") is not None else set(),
            turn_messages={
                tid: entries[tid]["value"] for tid in turns if entries[tid].get("value") is not None
            },
        )


def use_row_key(session_id: str, use_key: str) -> str:
    """The row key of an earlier use of a session id, beside the session's own row (keyed by
    the session id): the unit separator, which session ids do not hold."""
    return f"{session_id}\x1f{use_key}"


def _is_terminal(entry: dict[str, Any]) -> bool:
    return entry["kind"] == "signal" and entry["record"]["kind"] in TERMINAL_OUTCOMES


# (order, 1 if met while the session was open (held) else 0, entry, time of the turn it names)
PendingEntry = tuple[tuple[int, int, str], int, dict[str, Any], int | None]


def _in_order(
    fresh: list[dict[str, Any]], held: list[dict[str, Any]], lead_ms: int
) -> list[PendingEntry]:
    """A heap of the entries to apply, in `staged_order` (`PendingEntry`). Feedback and
    terminal signals naming a turn among them, stamped up to `lead_ms` before it, are taken
    right after that turn if the session is open when they are met in the order (the turn's
    time is carried for that check, see `Session.advance`). Held feedback was met open
    already (see `Session._awaits_turn`) and goes after it at once; what a held terminal
    signal held after it, and the signal, are met again in order."""
    coming = {
        e["record"]["event_id"]: e["record"]["event_time"]
        for e in (*fresh, *held)
        if e["kind"] == "interaction"
    }
    # A terminal signal held everything after it in the order: those were not met yet.
    group = min((staged_order(e) for e in held if _is_terminal(e)), default=None)
    pending: list[PendingEntry] = []
    for index, entry in enumerate((*fresh, *held)):
        order = staged_order(entry)
        named = _named_turn_time(entry, order, coming, lead_ms) if coming else None
        met_open = (
            index >= len(fresh) and entry["kind"] == "feedback" and (group is None or order < group)
        )
        if met_open:
            pending.append((order if named is None else (named, *order[1:]), 1, entry, None))
        else:
            pending.append((order, 0, entry, named))
    heapq.heapify(pending)
    return pending


def _pending_order(item: PendingEntry) -> tuple[int, int, str]:
    return item[0]


def _named_turn_time(
    entry: dict[str, Any], order: tuple[int, int, str], coming: Mapping[str, int], lead_ms: int
) -> int | None:
    """The time of the turn among `coming` that feedback or a terminal signal names, stamped
    up to `lead_ms` after it; None otherwise."""
    if entry["kind"] == "feedback" or order[1] == _RANK_TERMINAL:
        turn_time = coming.get(entry["record"].get("interaction_id"))
        if turn_time is not None and order[0] < turn_time <= order[0] + lead_ms:
            return turn_time
    return None


def _agent_of(turn: Mapping[str, Any]) -> tuple[str, str]:
    """The agent and version a turn counts for in the metrics."""
    return (turn["agent_id"], turn["agent_version"])


def _joined_order(item: Mapping[str, Any]) -> tuple[int, str]:
    return (item["event_time"], item["event_id"])


def _turn(interaction: dict[str, Any]) -> dict[str, Any]:
    """What a session keeps of an interaction record: all of a decoded one (it has exactly the
    reader schema's fields; records are never changed once decoded), so no copy."""
    if interaction.keys() == _INTERACTION_KEYS:
        return interaction
    return {k: interaction.get(k) for k in _INTERACTION_FIELDS}


def _joined_signal(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": record["event_id"],
        "event_time": record["event_time"],
        "kind": record["kind"],
        "source": record["source"],
        "interaction_id": record.get("interaction_id"),
    }
