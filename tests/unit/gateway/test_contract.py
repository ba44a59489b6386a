"""The gateway refuses exactly what the SDK refuses, naming the same field."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.contract import EventContract, EventKind
from producers.client import FeedbackClient, ProducerTopics
from producers.records import build_feedback, build_interaction, build_signal
from producers.settings import ProducerSettings
from schemas.exceptions import InvalidRecordError

NOW_MS = 1_780_000_000_000


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedbackClient]:
    """A client that never connects: only its build, check and encode steps are used."""
    client = FeedbackClient(
        ProducerSettings(
            bootstrap_servers="127.0.0.1:9",
            spool_dir=Path(tmp_path_factory.mktemp("spool")),
            replay_spool_on_start=False,
            close_timeout_s=0,
        )
    )
    yield client
    client.close()


@pytest.fixture(scope="module")
def contract() -> EventContract:
    return EventContract(
        ProducerTopics(), max_text_bytes=65_536, max_event_bytes=1_000_000, max_future_skew_s=300
    )


def base(kind: EventKind) -> dict[str, Any]:
    if kind == "interaction":
        return {
            "session_id": "s-1", "turn_index": 0, "agent_id": "bot", "agent_version": "1",
            "model": "m", "prompt": "p", "response": "r", "latency_ms": 5,
            "event_id": str(uuid.uuid4()), "event_time": NOW_MS,
        }  # fmt: skip
    if kind == "feedback":
        return {"session_id": "s-1", "kind": "thumbs", "thumbs_up": True, "event_time": NOW_MS}
    return {"session_id": "s-1", "kind": "task_completed", "event_time": NOW_MS}


_BUILDERS = {"interaction": build_interaction, "feedback": build_feedback, "signal": build_signal}
_TOPICS = {
    "interaction": ProducerTopics().interactions,
    "feedback": ProducerTopics().feedback,
    "signal": ProducerTopics().signals,
}
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**33), 2**33), st.floats(allow_nan=True),
    st.text(max_size=5), st.sampled_from(["thumbs", "rating", "end_user", "ok", "unknown"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.text(max_size=3)),
)  # fmt: skip
_FIELDS = st.sampled_from(
    [
        "session_id", "turn_index", "agent_id", "latency_ms", "prompt_tokens", "cost_usd",
        "tools_used", "context", "retry_of", "event_id", "kind", "rating", "thumbs_up",
        "correction", "comment", "source", "interaction_id", "detail", "user_id", "unknown_field",
    ]
)  # fmt: skip


def sdk_outcome(sdk: FeedbackClient, kind: EventKind, fields: dict[str, Any]) -> str | None:
    topic = _TOPICS[kind]
    try:
        record = sdk._build(topic, _BUILDERS[kind], fields)
        sdk._encode(topic, record)
    except InvalidRecordError as exc:
        return f"refused:{exc.field}"
    return None


def gateway_outcome(contract: EventContract, kind: EventKind, fields: dict[str, Any]) -> str | None:
    try:
        contract.prepare(kind, fields)
    except InvalidRecordError as exc:
        return f"refused:{exc.field}"
    return None


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["interaction", "feedback", "signal"]),
    changes=st.dictionaries(_FIELDS, _VALUES, max_size=3),
    removed=st.sets(st.sampled_from(["session_id", "kind", "turn_index", "model"]), max_size=1),
)
def test_same_verdict_and_field_as_the_sdk(
    sdk: FeedbackClient,
    contract: EventContract,
    kind: EventKind,
    changes: dict[str, Any],
    removed: set[str],
) -> None:
    fields = {**base(kind), **changes}
    for name in removed:
        fields.pop(name, None)
    assert gateway_outcome(contract, kind, fields) == sdk_outcome(sdk, kind, fields)


def test_a_good_event_encodes_to_the_bytes_the_sdk_sends(
    sdk: FeedbackClient, contract: EventContract
) -> None:
    fields = base("interaction")
    prepared = contract.prepare("interaction", fields)
    record = sdk._build(_TOPICS["interaction"], build_interaction, fields)
    assert (prepared.key, prepared.value) == sdk._encode(_TOPICS["interaction"], record)
    assert prepared.event_id == fields["event_id"]


def test_rfc3339_event_time_is_read_as_an_aware_datetime(contract: EventContract) -> None:
    aware = contract.build("signal", {**base("signal"), "event_time": "2026-01-31T12:00:00Z"})
    assert aware["event_time"] == 1_769_860_800_000
    for text in ("2026-01-31T12:00:00", "yesterday"):
        with pytest.raises(InvalidRecordError) as refused:
            contract.prepare("signal", {**base("signal"), "event_time": text})
        assert refused.value.field == "event_time"


def test_something_else_than_an_object_is_refused(contract: EventContract) -> None:
    with pytest.raises(InvalidRecordError, match="JSON object"):
        contract.prepare("feedback", ["not", "an", "object"])
