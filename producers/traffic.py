"""A realistic, deterministic generator of agent traffic with its ground truth.

Sessions of several agents and versions (each with a true quality) arrive in simulated event time;
each has 1-6 turns with tools, ends with a terminal signal or silently (abandonment), and may get
sparse, noisy feedback seconds to hours later. Events come out in event-time order; the ground
truth says what really happened so tests can check the pipeline's outputs exactly.
"""

import heapq
import itertools
import math
import random
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from producers.bad_records import BAD_RECORD_KINDS, make_bad_record
from producers.corpus import DOMAINS, compose_turn
from producers.drift import QualityChange, quality_at
from producers.truth import GroundTruth, SessionTruth, TurnTruth
from schemas.serializer import SingleObjectSerializer, serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TopicSpec

__all__ = [
    "DEFAULT_AGENTS",
    "AgentProfile",
    "GeneratedEvent",
    "Traffic",
    "TrafficConfig",
    "generate_traffic",
    "has_trait",
]

_TERMINAL = {
    "completed": "task_completed",
    "failed": "task_failed",
    "escalated": "escalated_to_human",
}


@dataclass(frozen=True)
class AgentProfile:
    """An agent release and how good it really is (mean true quality of its answers, 0-1)."""

    agent_id: str
    agent_version: str
    model: str
    domain: str
    quality: float
    weight: float = 1.0


DEFAULT_AGENTS: tuple[AgentProfile, ...] = (
    AgentProfile("support-bot", "1.4.0", "acme-llm-large", "support", 0.80, 3.0),
    AgentProfile("support-bot", "1.5.0", "acme-llm-small", "support", 0.55, 2.0),
    AgentProfile("code-helper", "3.2.0", "acme-llm-large", "code", 0.85, 2.0),
    AgentProfile("travel-planner", "0.9.1", "acme-llm-medium", "travel", 0.70, 1.0),
)


@dataclass(frozen=True)
class TrafficConfig:
    """What to generate. Times are simulated event time; the same config gives the same traffic."""

    sessions: int = 1000
    seed: int = 42
    start_time_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    sessions_per_second: float = 20.0
    agents: tuple[AgentProfile, ...] = DEFAULT_AGENTS
    users: int = 200
    max_turns: int = 6
    min_turn_gap_s: float = 2.0
    max_turn_gap_s: float = 90.0
    feedback_share: float = 0.35
    feedback_noise: float = 0.10
    max_feedback_delay_s: float = 7200.0
    retry_share: float = 0.4
    pii_share: float = 0.08
    abandon_after_s: float = 600.0
    feedback_grace_s: float = 21600.0
    too_late_share: float = 0.0
    duplicate_share: float = 0.0
    bad_record_share: float = 0.0
    bad_record_kinds: tuple[str, ...] = tuple(BAD_RECORD_KINDS)
    oversized_bytes: int = 2 * 1024 * 1024
    # A version's true quality changing over time (producers/drift.py); none by default.
    quality_changes: tuple[QualityChange, ...] = ()
    # Traffic regimes (producers/regimes.py); the defaults leave today's traffic unchanged.
    regime: str = "default"
    feedback_items: tuple[int, ...] = (1, 1, 1, 2)
    noisy_rater_share: float = 0.0
    noisy_rater_noise: float = 0.25
    sarcastic_user_share: float = 0.0
    sarcasm_rate: float = 0.7
    correction_delay_s: float = 0.0
    retry_without_id_share: float = 0.0
    # "mean": the outcome follows the session's mean quality (historical). "turns": users react
    # to each answer: after a bad one they may give up (abandon, fail, escalate) at once, and a
    # session completes when its last answer satisfied them.
    session_model: str = "mean"
    quit_after_bad: float = 0.5
    # Share of sessions handed to another agent (release) from a random turn on, under the same
    # session id: a router passing the user to a specialist, a version deployed mid-session.
    handoff_share: float = 0.0

    def __post_init__(self) -> None:
        if self.max_turn_gap_s >= self.abandon_after_s:
            raise ValueError(
                "max_turn_gap_s must be below abandon_after_s, or live sessions look abandoned"
            )
        if self.session_model not in ("mean", "turns"):
            raise ValueError(f"session_model must be 'mean' or 'turns', got {self.session_model!r}")
        if not self.feedback_items or min(self.feedback_items) < 1:
            raise ValueError("feedback_items must hold positive counts of feedback per session")
        unknown = set(self.bad_record_kinds) - set(BAD_RECORD_KINDS)
        if unknown:
            raise ValueError(
                f"unknown bad record kinds {sorted(unknown)}; known: {list(BAD_RECORD_KINDS)}"
            )


@cache
def _serializer(topic_name: str) -> SingleObjectSerializer:
    return serializer_for({t.name: t for t in (INTERACTIONS, FEEDBACK, SIGNALS)}[topic_name])


@dataclass
class GeneratedEvent:
    """One message to produce: a good record to encode, or the raw bytes of a bad one."""

    topic: TopicSpec
    key: bytes | None
    event_time: int
    record: dict[str, Any] | None = None
    raw: bytes | None = None
    bad_reason: str | None = None
    duplicate: bool = False

    def value(self) -> bytes:
        """The bytes to produce: the raw bytes, or the Avro single-object encoding of the record."""
        if self.raw is not None:
            return self.raw
        assert self.record is not None
        return _serializer(self.topic.name).encode(self.record)


@dataclass
class Traffic:
    """Generated traffic: iterate `events()` once; `truth` is complete afterwards."""

    config: TrafficConfig
    truth: GroundTruth = field(default_factory=GroundTruth)

    def events(self) -> Iterator[GeneratedEvent]:
        yield from _SessionFactory(self.config, self.truth).emit()


def generate_traffic(config: TrafficConfig) -> Traffic:
    return Traffic(config)


class _SessionFactory:
    """Builds sessions one by one and releases their events in event-time order."""

    def __init__(self, config: TrafficConfig, truth: GroundTruth) -> None:
        self.config = config
        self.truth = truth
        self.rng = random.Random(config.seed)
        self.pending: list[tuple[int, int, GeneratedEvent]] = []
        self.sequence = itertools.count()
        self.weights = [agent.weight for agent in config.agents]
        # turn event_id -> (turn time, the answer a correction would give), until feedback is drawn
        self.corrections: dict[str, tuple[int, str]] = {}

    def emit(self) -> Iterator[GeneratedEvent]:
        clock_ms = float(self.config.start_time_ms)
        for _ in range(self.config.sessions):
            clock_ms += self.rng.expovariate(self.config.sessions_per_second) * 1000.0
            yield from self._release(until_ms=int(clock_ms))
            self._session(int(clock_ms))
        yield from self._release(until_ms=None)

    def _release(self, until_ms: int | None) -> Iterator[GeneratedEvent]:
        while self.pending and (until_ms is None or self.pending[0][0] < until_ms):
            _, _, event = heapq.heappop(self.pending)
            self.truth.events_by_topic[event.topic.name] += 1
            yield event
            if event.bad_reason is None and not event.duplicate:
                yield from self._maybe_extra(event)

    def _maybe_extra(self, event: GeneratedEvent) -> Iterator[GeneratedEvent]:
        config, rng = self.config, self.rng
        if config.duplicate_share and rng.random() < config.duplicate_share:
            self.truth.duplicates += 1
            self.truth.events_by_topic[event.topic.name] += 1
            yield GeneratedEvent(
                event.topic, event.key, event.event_time, event.record, duplicate=True
            )
        if config.bad_record_share and rng.random() < config.bad_record_share:
            kind = rng.choice(config.bad_record_kinds)
            topic, key, value, reason = make_bad_record(rng, kind, config.oversized_bytes)
            self.truth.bad_records.append((topic.name, reason))
            self.truth.events_by_topic[topic.name] += 1
            yield GeneratedEvent(topic, key, event.event_time, raw=value, bad_reason=reason)

    def _push(self, topic: TopicSpec, session_id: str, record: dict[str, Any]) -> None:
        event = GeneratedEvent(topic, session_id.encode(), record["event_time"], record)
        heapq.heappush(self.pending, (record["event_time"], next(self.sequence), event))

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _session(self, start_ms: int) -> None:
        config, rng = self.config, self.rng
        agent = rng.choices(config.agents, weights=self.weights)[0]
        domain = DOMAINS[agent.domain]
        session_id = f"s-{self._new_id()}"
        user_id = f"user-{rng.randrange(config.users):05d}" if rng.random() < 0.9 else None
        channel = rng.choice(("web", "mobile", "slack", "api"))
        turns: list[TurnTruth] = []
        time_ms = start_ms
        previous: tuple[TurnTruth, str] | None = None
        by_turns, gave_up = config.session_model == "turns", False
        handoff = self._handoff(agent)
        for index in range(rng.randint(1, config.max_turns)):
            if index:
                time_ms += int(rng.uniform(config.min_turn_gap_s, config.max_turn_gap_s) * 1000)
            speaker = handoff[1] if handoff is not None and index >= handoff[0] else agent
            quality = _quality(rng, quality_at(config, speaker, time_ms))
            retry_of: str | None = None
            prompt = None
            if previous and not previous[0].good and rng.random() < config.retry_share:
                retry_of, prompt = previous[0].event_id, previous[1]
                previous[0].retried = True
                named: str | None = retry_of
                if config.retry_without_id_share and rng.random() < config.retry_without_id_share:
                    # A client-side "try again": neither the signal nor the agent names the turn.
                    named = retry_of = None
                self._push(
                    SIGNALS,
                    session_id,
                    self._signal(session_id, time_ms - 500, "retried", "client", named),
                )
            text = compose_turn(rng, domain, quality >= 0.5, config.pii_share, prompt)
            turn = TurnTruth(self._new_id(), index, quality, quality >= 0.5)
            turns.append(turn)
            previous = (turn, text.prompt)
            prompt_tokens = len(text.prompt) // 4 + 120
            completion_tokens = len(text.response) // 4 + (len(text.reasoning or "") // 4)
            self._push(
                INTERACTIONS,
                session_id,
                {
                    "event_id": turn.event_id,
                    "session_id": session_id,
                    "turn_index": index,
                    "agent_id": speaker.agent_id,
                    "agent_version": speaker.agent_version,
                    "model": speaker.model,
                    "event_time": time_ms,
                    "user_id": user_id,
                    "prompt": text.prompt,
                    "response": text.response,
                    "reasoning": text.reasoning,
                    "tools_used": text.tools_used,
                    "context": {
                        "channel": channel,
                        "locale": rng.choice(("en-US", "en-GB", "de-DE")),
                        "system_prompt": domain.system_prompt,
                    },
                    "latency_ms": rng.randint(300, 2500)
                    + sum(t["latency_ms"] for t in text.tools_used),
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "cost_usd": round(prompt_tokens * 2e-6 + completion_tokens * 8e-6, 6),
                    "retry_of": retry_of,
                    "attachments": [],
                },
            )
            self.corrections[turn.event_id] = (time_ms, text.correction)
            if by_turns and not turn.good and rng.random() < config.quit_after_bad:
                gave_up = True
                break
        if by_turns:
            outcome = _reacted_outcome(rng, turns[-1].good, gave_up)
        else:
            outcome = _outcome(rng, sum(t.quality for t in turns) / len(turns))
        closed_by = None
        if outcome == "abandoned":
            closed_at = time_ms + int(config.abandon_after_s * 1000)
        else:
            closed_at = time_ms + int(rng.uniform(1, 30) * 1000)
            signal = self._signal(
                session_id, closed_at, _TERMINAL[outcome], rng.choice(("agent", "client")), None
            )
            closed_by = signal["event_id"]
            self._push(SIGNALS, session_id, signal)
        truth = SessionTruth(
            session_id,
            agent.agent_id,
            agent.agent_version,
            user_id,
            outcome,
            turns,
            time_ms,
            closed_at,
            closed_by,
        )
        self.truth.sessions[session_id] = truth
        self._feedback(truth)

    def _handoff(self, agent: AgentProfile) -> tuple[int, AgentProfile] | None:
        """From which turn, and to which other agent, a session is handed off (`handoff_share`);
        draws nothing when the share is 0, so other traffic stays as it was."""
        config, rng = self.config, self.rng
        others = [other for other in config.agents if other != agent]
        if not config.handoff_share or not others or rng.random() >= config.handoff_share:
            return None
        return rng.randint(1, config.max_turns), rng.choice(others)

    def _signal(
        self, session_id: str, time_ms: int, kind: str, source: str, interaction_id: str | None
    ) -> dict[str, Any]:
        return {
            "event_id": self._new_id(),
            "session_id": session_id,
            "interaction_id": interaction_id,
            "event_time": time_ms,
            "kind": kind,
            "source": source,
            "detail": None,
        }

    def _feedback(self, session: SessionTruth) -> None:
        config, rng = self.config, self.rng
        if rng.random() >= config.feedback_share:
            self._forget_corrections(session)
            return
        for _ in range(rng.choice(config.feedback_items)):
            turn_level = rng.random() < 0.7
            turn: TurnTruth | None = rng.choice(session.turns) if turn_level else None
            base_ms, correction = (
                self.corrections[turn.event_id] if turn else (session.last_activity_ms, "")
            )
            quality = (
                turn.quality if turn else sum(t.quality for t in session.turns) / len(session.turns)
            )
            too_late = rng.random() < config.too_late_share
            if too_late:
                time_ms = session.closed_at_ms + int(
                    (config.feedback_grace_s + rng.uniform(60, 3600)) * 1000
                )
            else:
                delay_s = math.exp(rng.gauss(math.log(300), 1.5))
                time_ms = base_ms + int(min(max(delay_s, 5.0), config.max_feedback_delay_s) * 1000)
            record = self._feedback_record(session, turn, time_ms, quality, correction)
            if record["kind"] == "correction" and config.correction_delay_s and not too_late:
                # Reviewers' corrections come on their own schedule: minutes to a day later.
                delay_s = math.exp(rng.gauss(math.log(config.correction_delay_s), 1.0))
                time_ms = base_ms + int(min(max(delay_s, 30.0), 36 * 3600.0) * 1000)
                record["event_time"] = time_ms
            if record["kind"] == "correction" and turn is not None:
                turn.corrected = True
            if time_ms > session.closed_at_ms + int(config.feedback_grace_s * 1000):
                self.truth.too_late_feedback.add(record["event_id"])
            if record["kind"] == "thumbs":
                self.truth.thumbs[record["event_id"]] = (session.session_id, record["thumbs_up"])
            self._push(FEEDBACK, session.session_id, record)
        self._forget_corrections(session)

    def _forget_corrections(self, session: SessionTruth) -> None:
        for turn in session.turns:
            self.corrections.pop(turn.event_id, None)

    def _feedback_record(
        self,
        session: SessionTruth,
        turn: TurnTruth | None,
        time_ms: int,
        quality: float,
        correction: str,
    ) -> dict[str, Any]:
        rng = self.rng
        good = quality >= 0.5
        kinds = ["thumbs", "rating", "comment"] + (["correction"] if turn and not good else [])
        kind = rng.choices(kinds, weights=[55, 25, 8, 30][: len(kinds)])[0]
        source = rng.choices(
            ("end_user", "human_reviewer", "automatic_evaluator"), weights=(80, 12, 8)
        )[0]
        event_id = self._new_id()  # drawn before the rater: same seed, same traffic as before
        rater_id = f"rater-{rng.randrange(50):03d}" if source != "end_user" else session.user_id
        noise = self._rater_noise(rater_id)
        record: dict[str, Any] = {
            "event_id": event_id,
            "session_id": session.session_id,
            "interaction_id": turn.event_id if turn else None,
            "event_time": time_ms,
            "kind": kind,
            "thumbs_up": None,
            "rating": None,
            "correction": None,
            "comment": None,
            "source": source,
            "rater_id": rater_id,
            "attachments": [],
        }
        if kind == "thumbs":
            record["thumbs_up"] = good != (rng.random() < noise)
            if not good and source == "end_user" and self._sarcastic(rater_id):
                record["thumbs_up"] = record["thumbs_up"] or rng.random() < self.config.sarcasm_rate
        elif kind == "rating":
            score = 1 + round(4 * quality + rng.gauss(0, 0.6))
            if rng.random() < noise:
                score = 6 - score
            record["rating"] = min(5, max(1, score))
        elif kind == "correction":
            record["correction"] = correction
            record["comment"] = "This is what the answer should have been."
        else:
            record["comment"] = rng.choice(
                ("Great, thanks!", "Spot on.", "Very helpful.")
                if good != (rng.random() < noise)
                else ("Not what I asked.", "This did not work.", "Wrong answer.")
            )
        return record

    def _trait(self, who: str | None, share: float, trait: str) -> bool:
        return has_trait(self.config, who, share, trait)

    def _rater_noise(self, rater_id: str | None) -> float:
        """This rater's flip rate: crowds hold reliable and noisy raters."""
        if self._trait(rater_id, self.config.noisy_rater_share, "noisy"):
            return self.config.noisy_rater_noise
        return self.config.feedback_noise

    def _sarcastic(self, user_id: str | None) -> bool:
        return self._trait(user_id, self.config.sarcastic_user_share, "sarcastic")


def has_trait(config: TrafficConfig, who: str | None, share: float, trait: str) -> bool:
    """Whether `who` (a user or rater id) is among the `share` of people with `trait` in
    `config`'s traffic: a hash, not a draw, so the same person keeps the trait and traffic
    without traits draws nothing extra. Public for evaluations that need the truth of a rater
    (e.g. which users are sarcastic)."""
    if not share or who is None:
        return False
    digest = zlib.crc32(f"{config.seed}/{trait}/{who}".encode())
    return digest / 2**32 < share


def _quality(rng: random.Random, mean: float) -> float:
    concentration = 6.0
    return rng.betavariate(max(mean * concentration, 0.1), max((1 - mean) * concentration, 0.1))


def _outcome(rng: random.Random, mean_quality: float) -> str:
    draw = rng.random()
    abandon = 0.08 + 0.25 * (1 - mean_quality)
    fail = abandon + 0.04 + 0.25 * (1 - mean_quality)
    escalate = fail + 0.03
    if draw < abandon:
        return "abandoned"
    if draw < fail:
        return "failed"
    if draw < escalate:
        return "escalated"
    return "completed"


def _reacted_outcome(rng: random.Random, last_good: bool, gave_up: bool) -> str:
    """The outcome of a session whose user reacts to each answer ("turns" session model)."""
    if gave_up:
        return rng.choices(("abandoned", "failed", "escalated"), weights=(5, 3, 2))[0]
    if last_good:
        return "completed" if rng.random() < 0.92 else "abandoned"
    return rng.choices(("completed", "abandoned", "failed", "escalated"), weights=(4, 3, 2, 1))[0]
