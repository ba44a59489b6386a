"""The expected content of a session's enriched records (all fields but `revision`).

A turn shows every joined feedback that concerns it (turn-level on it, or session-level) and
every joined signal of the session that names it or no turn; its label follows docs/labels.md.
"""

from collections.abc import Mapping
from typing import Any

from verification.labels import label_turn
from verification.sessions import SessionRun

__all__ = ["INTERACTION_FIELDS", "enriched_content", "joined_feedback"]

INTERACTION_FIELDS = (
    "event_id", "session_id", "turn_index", "agent_id", "agent_version", "model", "event_time",
    "user_id", "prompt", "response", "reasoning", "tools_used", "context", "latency_ms",
    "prompt_tokens", "completion_tokens", "cost_usd", "retry_of", "attachments",
)  # fmt: skip
_FEEDBACK_FIELDS = (
    "event_id", "event_time", "kind", "thumbs_up", "rating", "correction", "comment", "source",
    "rater_id",
)  # fmt: skip


def joined_feedback(run: SessionRun) -> list[tuple[str | None, dict[str, Any]]]:
    """(target turn or None, shown fields) of each joined feedback, by (event_time, event_id)."""
    items = sorted(run.feedback, key=lambda f: (f.event_time, f.event_id))
    shown = []
    for item in items:
        target = run.targets[item.event_id]
        fields = {name: item.record.get(name) for name in _FEEDBACK_FIELDS}
        fields["session_level"] = target is None
        shown.append((target, fields))
    return shown


def enriched_content(run: SessionRun) -> dict[str, dict[str, Any]]:
    """turn event_id -> the expected enriched record without `revision`."""
    assert run.closed_at is not None and run.outcome is not None
    feedback = joined_feedback(run)
    retried = {turn.record.get("retry_of") for turn in run.turns}
    retried.update(s["interaction_id"] for s in run.signals if s["kind"] == "retried")
    records: dict[str, dict[str, Any]] = {}
    for turn in run.turns:
        mine = [fields for target, fields in feedback if target in (None, turn.event_id)]
        label = label_turn(mine, run.outcome, turn.event_id in retried)
        records[turn.event_id] = {
            **_interaction_fields(turn.record),
            "session_outcome": run.outcome,
            "session_closed_at": run.closed_at,
            "session_turns": len(run.turns),
            "feedback": mine,
            "signals": [s for s in run.signals if s["interaction_id"] in (None, turn.event_id)],
            "reward": label.reward,
            "reward_source": label.reward_source,
            "reward_confidence": label.reward_confidence,
            "corrected_response": label.corrected_response,
        }
    return records


def _interaction_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    fields = {name: record.get(name) for name in INTERACTION_FIELDS}
    fields["tools_used"] = list(fields["tools_used"] or [])
    fields["context"] = dict(fields["context"] or {})
    fields["attachments"] = list(fields["attachments"] or [])
    return fields
