"""Comparing the reference's expectations with what the lake holds, as one-line differences.

Pure functions over plain rows (already read and normalised by `verification.lake_check`).
Floats match within a relative tolerance of 1e-9; the feedback and signals of an enriched record
are matched by event id, whatever their order in the record.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verification.reference import ExpectedDeadLetter, ExpectedMetric, ExpectedTurn
from verification.windows import WindowKey

__all__ = [
    "DECIDED_REASONS",
    "Difference",
    "compare_dead_letters",
    "compare_enriched",
    "compare_inferred_signals",
    "compare_metrics",
    "values_match",
]

# Dead-letter reasons the reference decides; others (processing_error...) are not compared.
DECIDED_REASONS = frozenset(
    {
        "oversized", "missing_key", "undecodable", "unknown_fingerprint", "wrong_schema",
        "schema_invalid", "future_event_time", "reserved_source", "too_late",
        "unknown_interaction",
    }
)  # fmt: skip
_UNORDERED_LISTS = ("feedback", "signals")
_NOT_COMPARED_METRIC_FIELDS = frozenset({"update_seq"})
_PRESENT, _ABSENT = "present", "absent"


@dataclass(frozen=True)
class Difference:
    """One way the lake differs from the reference."""

    table: str
    key: str
    field: str
    expected: Any
    found: Any

    def line(self) -> str:
        return (
            f"{self.table} [{self.key}] {self.field}: expected {_show(self.expected)}, "
            f"found {_show(self.found)}"
        )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def values_match(expected: Any, found: Any) -> bool:
    """Equality, with floats within 1e-9 relative (ints and floats compare as numbers)."""
    if isinstance(expected, bool) or isinstance(found, bool):
        return type(expected) is type(found) and expected == found
    if isinstance(expected, float | int) and isinstance(found, float | int):
        return math.isclose(expected, found, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        return expected.keys() == found.keys() and all(
            values_match(expected[k], found[k]) for k in expected
        )
    if isinstance(expected, list | tuple) and isinstance(found, list | tuple):
        return len(expected) == len(found) and all(
            values_match(e, f) for e, f in zip(expected, found, strict=True)
        )
    return bool(expected == found)


def compare_enriched(
    expected: Mapping[str, ExpectedTurn], found: Mapping[str, Mapping[str, Any]]
) -> list[Difference]:
    """Expected turns against the lake's highest revision per event_id."""
    table, out = "enriched_interactions", []
    for event_id in sorted(expected.keys() | found.keys()):
        turn, row = expected.get(event_id), found.get(event_id)
        key = f"event_id={event_id}"
        if turn is None or row is None:
            out.append(Difference(table, key, "record", *_presence(turn, row)))
            continue
        key += f" session_id={turn.session_id}"
        for name, value in turn.record.items():
            if name in _UNORDERED_LISTS:
                out += _compare_items(table, key, name, value, row.get(name) or [])
            elif not values_match(value, row.get(name)):
                out.append(Difference(table, key, name, value, row.get(name)))
    return out


def _compare_items(
    table: str, key: str, name: str, expected: list[Any], found: list[Any]
) -> list[Difference]:
    by_id = {item["event_id"]: item for item in found}
    wanted = {item["event_id"]: item for item in expected}
    out = []
    for item_id in sorted(wanted.keys() | by_id.keys()):
        item, row = wanted.get(item_id), by_id.get(item_id)
        label = f"{name}[{item_id}]"
        if item is None or row is None:
            out.append(Difference(table, key, label, *_presence(item, row)))
            continue
        for field, value in item.items():
            if not values_match(value, row.get(field)):
                out.append(Difference(table, key, f"{label}.{field}", value, row.get(field)))
    return out


def _presence(expected: Any, found: Any) -> tuple[str, str]:
    return (_ABSENT if expected is None else _PRESENT, _ABSENT if found is None else _PRESENT)


def compare_metrics(
    expected: Mapping[WindowKey, ExpectedMetric], found: Mapping[WindowKey, Mapping[str, Any]]
) -> list[Difference]:
    """Expected windows against the lake's final records (one per window)."""
    table, out = "quality_metrics", []
    for window in sorted(expected.keys() | found.keys()):
        metric, row = expected.get(window), found.get(window)
        key = f"{window[0]} {window[1]} window_start={window[2]}"
        if metric is None or row is None:
            out.append(Difference(table, key, "final record", *_presence(metric, row)))
            continue
        for name, value in metric.record.items():
            if name not in _NOT_COMPARED_METRIC_FIELDS and not values_match(value, row.get(name)):
                out.append(Difference(table, key, name, value, row.get(name)))
    return out


def compare_dead_letters(
    expected: Iterable[ExpectedDeadLetter], found: Iterable[tuple[str, int, int, str]]
) -> list[Difference]:
    """Expected dead letters against the processor's, by (topic, partition, offset, reason).

    Found dead letters with a reason the reference does not decide count only where the
    reference expected a dead letter at those coordinates."""
    wanted: dict[tuple[str, int, int], set[str]] = {}
    for letter in expected:
        wanted.setdefault(letter.coordinates, set()).add(letter.reason)
    got: dict[tuple[str, int, int], set[str]] = {}
    for topic, partition, offset, reason in found:
        got.setdefault((topic, partition, offset), set()).add(reason)
    out = []
    for coordinates in sorted(wanted.keys() | got.keys()):
        reasons = wanted.get(coordinates, set())
        seen = got.get(coordinates, set())
        if not reasons:
            seen &= DECIDED_REASONS
        if reasons != seen:
            key = "{}/{}@{}".format(*coordinates)
            out.append(Difference("dead_letters", key, "reason", _reasons(reasons), _reasons(seen)))
    return out


def _reasons(reasons: set[str]) -> str:
    return ",".join(sorted(reasons)) or "(none)"


def compare_inferred_signals(
    expected: Iterable[Mapping[str, Any]], found: Iterable[Mapping[str, Any]]
) -> list[Difference]:
    """The processor's inferred `abandoned` signals, by (session_id, event_time)."""
    wanted = {(s["session_id"], s["event_time"]) for s in expected}
    got = {(s["session_id"], s["event_time"]) for s in found}
    out = []
    for session_id, event_time in sorted(wanted ^ got):
        out.append(
            Difference(
                "raw_events (inferred signals)",
                f"session_id={session_id} event_time={event_time}",
                "abandoned signal",
                *_presence(
                    True if (session_id, event_time) in wanted else None,
                    True if (session_id, event_time) in got else None,
                ),
            )
        )
    return out
