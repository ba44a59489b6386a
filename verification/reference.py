"""The batch reference: from a complete set of input events to the results the processor owes.

`expected_results` is a pure function of the events and the timing settings, written from
docs/semantics.md, docs/labels.md and the Metrics section of docs/processor.md, independently of
`stream_processors/` (only its settings class is shared). Steps: intake refusals per message,
duplicates dropped per session id (first copy in the contract's order), each session id's
events walked in order (`verification.sessions`), then enriched content and metric windows.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stream_processors.settings import ProcessorSettings
from verification.enriched import enriched_content, joined_feedback
from verification.events import InputEvent, to_input_event
from verification.intake import SKIP, IntakeRefusal, refusal_of
from verification.sessions import SessionRun, Timing, walk_session_id
from verification.windows import WindowCounts, WindowKey

__all__ = [
    "ExpectedDeadLetter",
    "ExpectedMetric",
    "ExpectedResults",
    "ExpectedSession",
    "ExpectedTurn",
    "ReferenceConfig",
    "expected_results",
]

DEFAULT_MAX_FUTURE_SKEW_S = 300.0


@dataclass(frozen=True)
class ReferenceConfig:
    """The processor settings the contract depends on, in milliseconds."""

    abandon_after_ms: int = 600_000
    grace_ms: int = 21_600_000
    window_ms: int = 60_000
    sample_size: int = 512
    max_future_skew_ms: int = 300_000
    feedback_lead_ms: int = 60_000
    max_session_turns: int = 1000

    @classmethod
    def from_settings(cls, settings: ProcessorSettings) -> "ReferenceConfig":
        skew_s = getattr(settings, "max_future_skew_s", DEFAULT_MAX_FUTURE_SKEW_S)
        return cls(
            abandon_after_ms=int(settings.abandon_after_s * 1000),
            grace_ms=int(settings.feedback_grace_s * 1000),
            window_ms=settings.metrics_window_s * 1000,
            sample_size=settings.latency_sample_size,
            max_future_skew_ms=int(skew_s * 1000),
            feedback_lead_ms=int(settings.feedback_lead_s * 1000),
            max_session_turns=getattr(settings, "max_session_turns", 1000),
        )


@dataclass(frozen=True)
class ExpectedTurn:
    """A turn's enriched record at its highest revision, without `revision`."""

    event_id: str
    session_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class ExpectedSession:
    """One session (`use`: 0 for the first session under its id, 1 after a reuse...)."""

    session_id: str
    use: int
    outcome: str
    closed_at: int
    turns: int
    agent: tuple[str, str] | None


@dataclass(frozen=True)
class ExpectedDeadLetter:
    """A message the processor must dead-letter (event_id: None when it cannot be read)."""

    topic: str
    partition: int
    offset: int
    reason: str
    message: str
    event_id: str | None = None

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return (self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class ExpectedMetric:
    """The final QualityMetric record of one window."""

    key: WindowKey
    record: dict[str, Any]


@dataclass
class ExpectedResults:
    """Everything the processor owes for a set of input events."""

    turns: dict[str, ExpectedTurn] = field(default_factory=dict)
    sessions: list[ExpectedSession] = field(default_factory=list)
    inferred_signals: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[ExpectedDeadLetter] = field(default_factory=list)
    metrics: dict[WindowKey, ExpectedMetric] = field(default_factory=dict)

    def dead_letter_reasons(self) -> dict[str, str]:
        """event_id -> reason, for the dead letters whose event could be read."""
        return {d.event_id: d.reason for d in self.dead_letters if d.event_id is not None}


def expected_results(
    events: Iterable[Mapping[str, Any] | InputEvent],
    config: ReferenceConfig | ProcessorSettings | None = None,
) -> ExpectedResults:
    """The expected outputs of the processor for `events` (see `verification.events`)."""
    if config is None:
        config = ReferenceConfig()
    elif isinstance(config, ProcessorSettings):
        config = ReferenceConfig.from_settings(config)
    results = ExpectedResults()
    by_session = _accepted_by_session(events, config, results)
    timing = Timing(
        config.abandon_after_ms, config.grace_ms, config.feedback_lead_ms, config.max_session_turns
    )
    windows: dict[WindowKey, WindowCounts] = defaultdict(WindowCounts)
    for session_id in sorted(by_session):
        runs, refused = walk_session_id(session_id, by_session[session_id], timing)
        for event in refused:
            results.dead_letters.append(_dead_letter(event.event, event.reason, event.message))
        for use, run in enumerate(runs):
            _collect_run(run, use, config, results, windows)
    for key in sorted(windows):
        record = windows[key].to_record(key, config.window_ms, config.sample_size)
        results.metrics[key] = ExpectedMetric(key, record)
    return results


def _accepted_by_session(
    events: Iterable[Mapping[str, Any] | InputEvent],
    config: ReferenceConfig,
    results: ExpectedResults,
) -> dict[str, list[InputEvent]]:
    """Intake refusals into `results`; the accepted events per session id, in order, deduped."""
    accepted: dict[str, list[InputEvent]] = defaultdict(list)
    for raw in events:
        event = raw if isinstance(raw, InputEvent) else to_input_event(raw)
        refusal = refusal_of(event, config.max_future_skew_ms)
        if isinstance(refusal, IntakeRefusal):
            results.dead_letters.append(_dead_letter(event, refusal.reason, refusal.message))
        elif refusal != SKIP:
            accepted[event.session_id].append(event)
    for session_id, session_events in accepted.items():
        session_events.sort(key=InputEvent.order)
        seen: set[str] = set()
        unique = []
        for event in session_events:
            if event.event_id not in seen:
                seen.add(event.event_id)
                unique.append(event)
        accepted[session_id] = unique
    return accepted


def _dead_letter(event: InputEvent, reason: str, message: str) -> ExpectedDeadLetter:
    event_id = event.event_id or None
    return ExpectedDeadLetter(event.topic, event.partition, event.offset, reason, message, event_id)


def _collect_run(
    run: SessionRun,
    use: int,
    config: ReferenceConfig,
    results: ExpectedResults,
    windows: dict[WindowKey, WindowCounts],
) -> None:
    assert run.closed_at is not None and run.outcome is not None
    agent = (
        (str(run.turns[0].record["agent_id"]), str(run.turns[0].record["agent_version"]))
        if run.turns
        else None
    )
    results.sessions.append(
        ExpectedSession(run.session_id, use, run.outcome, run.closed_at, len(run.turns), agent)
    )
    if agent is None:
        return  # no turn: nothing to label or count
    if run.inferred_signal is not None:
        results.inferred_signals.append(run.inferred_signal)
    for event_id, record in enriched_content(run).items():
        results.turns[event_id] = ExpectedTurn(event_id, run.session_id, record)
    _count_run(run, agent, config.window_ms, windows)


def _count_run(
    run: SessionRun,
    agent: tuple[str, str],
    window_ms: int,
    windows: dict[WindowKey, WindowCounts],
) -> None:
    """Turns, their coverage and feedback on a turn count for the turn's own agent and version
    (a handoff to another agent, a deploy while the session is open); the outcome and
    session-level feedback for the session's, `agent` (its first turn's)."""

    def window(time: int, owner: tuple[str, str] = agent) -> WindowCounts:
        return windows[(owner[0], owner[1], time - time % window_ms)]

    assert run.closed_at is not None and run.outcome is not None
    owners = {
        turn.event_id: (str(turn.record["agent_id"]), str(turn.record["agent_version"]))
        for turn in run.turns
    }
    for turn in run.turns:
        window(turn.event_time, owners[turn.event_id]).add_turn(turn.record)
    window(run.closed_at).add_outcome(run.outcome)
    for item in run.feedback:
        target = run.targets[item.event_id]
        owner = owners[target] if target is not None else agent
        window(item.event_time, owner).add_feedback(item.record)
    feedback = joined_feedback(run)
    for turn in run.turns:
        end = turn.event_time - turn.event_time % window_ms + window_ms
        if any(
            target in (None, turn.event_id) and fields["event_time"] < end
            for target, fields in feedback
        ):
            window(turn.event_time, owners[turn.event_id]).with_feedback += 1
