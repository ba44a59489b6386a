"""Builders of enriched-table rows and small Delta lakes for curation tests (no services)."""

import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake

from schemas.lake import ENRICHED_INTERACTIONS, RAW_EVENTS

__all__ = ["feedback", "make_turn", "signal", "write_enriched", "write_raw_events"]

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def feedback(
    kind: str = "thumbs",
    *,
    thumbs_up: bool | None = None,
    rating: int | None = None,
    correction: str | None = None,
    session_level: bool = False,
    rater_id: str | None = "rater-1",
    seed: str | None = None,
    event_time: int = BASE_MS + 60_000,
    source: str = "end_user",
) -> dict[str, Any]:
    return {
        "event_id": _uid(seed or f"fb-{uuid.uuid4()}"),
        "event_time": event_time,
        "kind": kind,
        "thumbs_up": thumbs_up,
        "rating": rating,
        "correction": correction,
        "comment": None,
        "source": source,
        "rater_id": rater_id,
        "session_level": session_level,
    }


def signal(kind: str, interaction_id: str | None = None, source: str = "agent") -> dict[str, Any]:
    return {
        "event_id": _uid(f"sig-{uuid.uuid4()}"),
        "event_time": BASE_MS + 30_000,
        "kind": kind,
        "source": source,
        "interaction_id": interaction_id,
    }


def make_turn(session: str = "s1", turn_index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A complete enriched row with plausible defaults; override any column by name."""
    event_id = overrides.pop("event_id", _uid(f"{session}-{turn_index}"))
    row: dict[str, Any] = {
        "event_id": event_id,
        "session_id": session,
        "turn_index": turn_index,
        "agent_id": "support-bot",
        "agent_version": "1.0.0",
        "model": "model-a",
        "event_time": BASE_MS + turn_index * 10_000,
        "user_id": "user-1",
        "prompt": f"How do I reset my password, step {turn_index}?",
        "response": f"Open settings and choose reset (answer {turn_index}).",
        "reasoning": None,
        "tools_used": [],
        "context": [("system_prompt", "You are a helpful support agent.")],
        "latency_ms": 800,
        "prompt_tokens": 20,
        "completion_tokens": 40,
        "cost_usd": 0.001,
        "retry_of": None,
        "revision": 0,
        "session_outcome": "completed",
        "session_closed_at": BASE_MS + 600_000,
        "session_turns": 1,
        "feedback": [],
        "signals": [],
        "reward": 0.9,
        "reward_source": "explicit",
        "reward_confidence": 0.9,
        "corrected_response": None,
        "kafka_topic": "agent.sessions.enriched.v1",
        "kafka_partition": 0,
        "kafka_offset": 0,
        "kafka_timestamp": BASE_MS + 700_000,
    }
    row.update(overrides)
    row["event_date"] = dt.datetime.fromtimestamp(row["event_time"] / 1000, dt.UTC).date()
    return row


def write_enriched(
    lake_uri: str | Path, rows: Iterable[dict[str, Any]], mode: str = "append"
) -> str:
    """Append rows to the enriched table under `lake_uri` (the sink's layout); return its path."""
    schema = ENRICHED_INTERACTIONS.arrow_schema()
    # Rows made before attachments existed have none (the decoded default).
    table = pa.Table.from_pylist([{"attachments": [], **row} for row in rows], schema=schema)
    path = ENRICHED_INTERACTIONS.path(str(lake_uri))
    write_deltalake(path, table, mode=mode, partition_by=list(ENRICHED_INTERACTIONS.partition_by))
    return path


def write_raw_events(lake_uri: str | Path, rows: Iterable[dict[str, Any]]) -> str:
    """Append rows to the raw_events table under `lake_uri`; return its path."""
    table = pa.Table.from_pylist(list(rows), schema=RAW_EVENTS.arrow_schema())
    path = RAW_EVENTS.path(str(lake_uri))
    write_deltalake(path, table, mode="append", partition_by=list(RAW_EVENTS.partition_by))
    return path
