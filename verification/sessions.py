"""Walking one session id's events in order: sessions, their joins, closes and refusals.

Implements docs/semantics.md, "A session, applied in order": abandonment at last activity +
abandon_after (an event at exactly that time comes after the close), turns and signals while
open, feedback joined with an earlier turn within the grace period (or with the turn it names,
if that turn comes at most `feedback_lead` after it while the session is open), `too_late`
otherwise (`unknown_interaction` when it names a turn the session does not have before it), and
a new session under the same id for an interaction or non-terminal signal after the close
(feedback naming a turn of an earlier one joins that one within its grace period); a terminal
signal after the close is `too_late`. Past its grace period a closed session is forgotten, as
the stream's state of it is: the id meets an interaction, a signal or feedback naming a turn it
has not seen as one never seen.
A terminal signal naming a turn that comes at most `feedback_lead` after it, while the session
is open, is taken as if stamped at that turn's time: it closes the session there. An
interaction met while the session already has `max_turns` turns closes it as `unknown` at its
own time and begins the next session under the id.
"""

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from verification.events import TERMINAL_SIGNALS, InputEvent, inferred_abandoned_id

__all__ = ["Refused", "SessionRun", "Timing", "walk_session_id"]


@dataclass(frozen=True)
class Timing:
    """The contract's durations, in event-time milliseconds."""

    abandon_after_ms: int
    grace_ms: int
    # Feedback may come this long before the turn it names (a client's clock behind the
    # agent's); never more than the grace period.
    lead_ms: int
    # The most turns one session holds (an agent using one session id for everyone).
    max_turns: int = 1000


@dataclass(frozen=True)
class Refused:
    """An event refused by the join (`too_late`, `unknown_interaction`), and why."""

    event: InputEvent
    message: str
    reason: str = "too_late"


@dataclass
class SessionRun:
    """One session (one use of a session id), in the order its events were applied."""

    session_id: str
    turns: list[InputEvent] = field(default_factory=list)
    feedback: list[InputEvent] = field(default_factory=list)
    # The turn each joined feedback is about (by its event id), None when session-level.
    targets: dict[str, str | None] = field(default_factory=dict)
    signals: list[dict[str, Any]] = field(default_factory=list)
    last_activity: int | None = None
    closed_at: int | None = None
    outcome: str | None = None
    inferred_signal: dict[str, Any] | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def abandon_due(self, abandon_after_ms: int) -> int | None:
        if self.closed_at is not None or self.last_activity is None:
            return None
        return self.last_activity + abandon_after_ms

    def close(self, outcome: str, at: int) -> None:
        self.closed_at, self.outcome = at, outcome
        if outcome == "abandoned" and self.turns:
            self.inferred_signal = _abandoned_signal(self.session_id, at, self.last_activity)
            self.signals.append(joined_signal(self.inferred_signal))


def joined_signal(record: Any) -> dict[str, Any]:
    """The fields of a signal an enriched record shows."""
    return {
        "event_id": record["event_id"],
        "event_time": record["event_time"],
        "kind": record["kind"],
        "source": record["source"],
        "interaction_id": record.get("interaction_id"),
    }


def _abandoned_signal(session_id: str, at: int, last_activity: int | None) -> dict[str, Any]:
    return {
        "event_id": inferred_abandoned_id(session_id, at),
        "session_id": session_id,
        "interaction_id": None,
        "event_time": at,
        "kind": "abandoned",
        "source": "inferred",
        "detail": f"no activity for {at - (last_activity or 0)} ms",
    }


def walk_session_id(
    session_id: str, events: Iterable[InputEvent], timing: Timing
) -> tuple[list[SessionRun], list[Refused]]:
    """Every session under one id and the refused events; `events` sorted by `order()` and
    without duplicates.

    Feedback naming a turn of the id that comes after it by at most `lead_ms`, while the
    session is open, is taken right after that turn instead (`deferred`); a terminal signal, in
    the order as if stamped at that turn's time (`postponed`)."""
    events = list(events)
    turn_times = {e.event_id: e.event_time for e in events if e.kind == "interaction"}
    lead_ms = min(timing.lead_ms, timing.grace_ms)
    deferred: dict[str, list[InputEvent]] = {}
    # The events still to walk, by their place in the order (a heap: a postponed terminal
    # signal goes back in with its turn's time).
    pending = [(event.order(), event) for event in events]
    heapq.heapify(pending)
    postponed: dict[str, int] = {}
    runs = [SessionRun(session_id)]
    refused: list[Refused] = []
    while pending:
        _, event = heapq.heappop(pending)
        run = runs[-1]
        due = run.abandon_due(timing.abandon_after_ms)
        if due is not None and due <= event.event_time:
            run.close("abandoned", due)
        if (
            run.closed_at is not None
            and event.event_time > run.closed_at + timing.grace_ms
            and (event.kind != "feedback" or _names_an_unknown_turn(runs, event))
        ):
            # Past its grace period the closed session is forgotten (the stream's state of it
            # is gone): the id meets this event as one never seen. Feedback naming none of the
            # id's turns so far may name a turn resuming the conversation; other feedback is
            # `too_late` either way.
            run = SessionRun(session_id)
            runs.append(run)
        target = event.record.get("interaction_id")
        turn_time = turn_times.get(str(target)) if target is not None else None
        ahead = (
            run.is_open
            and turn_time is not None
            and event.event_time < turn_time <= event.event_time + lead_ms
        )
        if event.kind == "feedback":
            if ahead:
                deferred.setdefault(str(target), []).append(event)
            else:
                _join_feedback(runs, event, timing.grace_ms, refused)
            continue
        terminal = event.kind == "signal" and str(event.record.get("kind")) in TERMINAL_SIGNALS
        if terminal and ahead and event.event_id not in postponed:
            assert turn_time is not None
            postponed[event.event_id] = turn_time
            heapq.heappush(pending, ((turn_time, *event.order()[1:]), event))
            continue
        if event.kind == "interaction" and run.is_open and len(run.turns) >= timing.max_turns:
            run.close("unknown", event.event_time)  # full: the turn begins the next session
        if run.closed_at is not None:
            if terminal:
                refused.append(Refused(event, f"session {session_id} closed at {run.closed_at}"))
                continue  # a second close
            run = SessionRun(session_id)
            runs.append(run)
        _apply_activity(run, event, postponed.get(event.event_id))
        for feedback in deferred.pop(event.event_id, []):
            _join_feedback(runs, feedback, timing.grace_ms, refused)
    last = runs[-1]
    due = last.abandon_due(timing.abandon_after_ms)
    if due is not None:
        last.close("abandoned", due)
    return [run for run in runs if run.last_activity is not None], refused


def _join_feedback(
    runs: list[SessionRun], event: InputEvent, grace_ms: int, refused: list[Refused]
) -> None:
    """Join feedback to the current session, or to the earlier one whose turn it names while
    that one's grace period lasts."""
    run = runs[-1]
    target = event.record.get("interaction_id")
    if target is not None and not _has_turn(run, target):
        for earlier in runs[:-1]:
            assert earlier.closed_at is not None
            if _has_turn(earlier, target) and event.event_time <= earlier.closed_at + grace_ms:
                run = earlier
                break
    if run.closed_at is not None and event.event_time > run.closed_at + grace_ms:
        late_ms = event.event_time - run.closed_at
        refused.append(Refused(event, f"feedback {late_ms} ms after the close; grace {grace_ms}"))
        return
    if not run.turns:
        refused.append(Refused(event, f"no turn of session {run.session_id} before the feedback"))
        return
    # Turn-level when it names a turn taken before it, session-level when it names none
    # (docs/semantics.md); naming a turn the session does not have, it is refused.
    if target is not None and not _has_turn(run, target):
        message = f"names interaction {target}, not a turn of session {run.session_id} before it"
        refused.append(Refused(event, message, "unknown_interaction"))
        return
    run.feedback.append(event)
    run.targets[event.event_id] = None if target is None else str(target)


def _names_an_unknown_turn(runs: list[SessionRun], event: InputEvent) -> bool:
    target = event.record.get("interaction_id")
    return target is not None and not any(_has_turn(run, target) for run in runs)


def _has_turn(run: SessionRun, turn_id: Any) -> bool:
    return any(turn.event_id == turn_id for turn in run.turns)


def _apply_activity(run: SessionRun, event: InputEvent, closes_at: int | None = None) -> None:
    """`closes_at`: a terminal signal's close when it waited for the turn it names."""
    run.last_activity = max(event.event_time, run.last_activity or event.event_time)
    if event.kind == "interaction":
        run.turns.append(event)
        return
    run.signals.append(joined_signal(event.record))
    terminal = TERMINAL_SIGNALS.get(str(event.record.get("kind")))
    if terminal is not None:
        run.close(terminal, event.event_time if closes_at is None else closes_at)
