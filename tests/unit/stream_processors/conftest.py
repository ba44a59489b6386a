"""Builders of plain event records, and of fetched Kafka records, for the processor's unit tests."""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from stream_processors.partition import PartitionConfig
from verification.reference import ReferenceConfig

T0 = 1_767_225_600_000


@dataclass
class FetchedRecord:
    """A record as the fetch loop hands it to the runtime (`batch_transport.ConsumedRecord`)."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None


class EventFactory:
    """Makes interaction, feedback and signal entries (as the runtime stages them)."""

    def __init__(self, session_id: str = "s-1") -> None:
        self.session_id = session_id
        self._counter = 0

    def _id(self) -> str:
        self._counter += 1
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.session_id}/{self._counter}"))

    def interaction(self, at_s: float, turn: int = 0, **extra: Any) -> dict[str, Any]:
        record = {
            "event_id": self._id(),
            "session_id": self.session_id,
            "turn_index": turn,
            "agent_id": "bot",
            "agent_version": "1.0",
            "model": "m",
            "event_time": T0 + int(at_s * 1000),
            "user_id": None,
            "prompt": "q",
            "response": "a",
            "reasoning": None,
            "tools_used": [{"name": "t", "arguments": "{}", "status": "ok", "latency_ms": 5}],
            "context": {},
            "latency_ms": 100 + turn,
            "prompt_tokens": 1,
            "completion_tokens": 1,
            "cost_usd": 0.001,
            "retry_of": None,
            "attachments": [],
            **extra,
        }
        return {"kind": "interaction", "record": record, "src": ["interactions", 0, 0, None]}

    def signal(self, at_s: float, kind: str, interaction_id: str | None = None) -> dict[str, Any]:
        record = {
            "event_id": self._id(),
            "session_id": self.session_id,
            "interaction_id": interaction_id,
            "event_time": T0 + int(at_s * 1000),
            "kind": kind,
            "source": "agent",
            "detail": None,
        }
        return {"kind": "signal", "record": record, "src": ["signals", 0, 0, None]}

    def feedback(
        self, at_s: float, kind: str = "thumbs", interaction_id: str | None = None, **values: Any
    ) -> dict[str, Any]:
        record = {
            "event_id": self._id(),
            "session_id": self.session_id,
            "interaction_id": interaction_id,
            "event_time": T0 + int(at_s * 1000),
            "kind": kind,
            "thumbs_up": None,
            "rating": None,
            "correction": None,
            "comment": None,
            "source": "end_user",
            "rater_id": None,
            **values,
        }
        return {"kind": "feedback", "record": record, "src": ["feedback", 0, 0, None]}


@pytest.fixture()
def events() -> EventFactory:
    return EventFactory()


def reference_config(config: PartitionConfig) -> ReferenceConfig:
    """The batch reference's timing for a processor's (`verification.reference`)."""
    return ReferenceConfig(
        abandon_after_ms=config.abandon_after_ms,
        grace_ms=config.grace_ms,
        window_ms=config.window_ms,
        sample_size=config.sample_size,
        feedback_lead_ms=config.lead_ms,
        max_session_turns=config.max_session_turns,
    )
