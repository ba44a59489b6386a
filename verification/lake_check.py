"""`verify_lake`: a namespace's `raw_events` at a pinned version, through the reference, against
the processor's outputs in the same lake (`enriched_interactions`, `quality_metrics`,
`dead_letters`, and the inferred signals read back into `raw_events`).

After an erasure (`lake erase`, recorded in the ledger) the raw events of the erased users'
sessions are gone, and with them what the reference would need to recompute those sessions and
the metric windows that counted them (metrics keep aggregates, by design). So the sessions the
ledger names, and the turns it names (other users' turns that held the erased user's feedback),
are left out on both sides, and `quality_metrics` is not compared (`LakeVerification.skipped`
says why).

Only reading and normalising here (tables through `sinks.lake_reader`); the reference and the
comparison are pure (`verification.reference`, `verification.comparison`).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from schemas.erasure_ledger import ErasedIdentities, ledger_paths, read_ledger
from schemas.topics import INPUT_TOPICS, topic_by_name
from sinks.lake import Lake
from sinks.lake_reader import read_table
from stream_processors.settings import ProcessorSettings
from verification.comparison import (
    Difference,
    compare_dead_letters,
    compare_enriched,
    compare_inferred_signals,
    compare_metrics,
)
from verification.events import InputEvent, is_inferred_abandoned
from verification.raw_input import RawRow, decode_raw_rows
from verification.reference import ExpectedResults, ReferenceConfig, expected_results
from verification.windows import WindowKey

__all__ = ["LakeVerification", "verify_lake"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_RAW_COLUMNS = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp", "key", "value"]
_INPUT_RECORDS = {spec.value_record for spec in INPUT_TOPICS}


@dataclass
class LakeVerification:
    """What was read (table -> Delta version, None: no table), how much was compared, and
    every difference."""

    versions: dict[str, int | None] = field(default_factory=dict)
    compared: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    # What was left out of the comparison, and why (after erasures).
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences


def verify_lake(
    lake: Lake,
    settings: ProcessorSettings | ReferenceConfig | None = None,
    version: int | None = None,
) -> LakeVerification:
    """Compare a lake's outputs with the reference computed from its `raw_events` at
    `version` (None: the latest). Output tables are read at their latest versions."""
    config = _config(settings)
    result = LakeVerification()
    raw, result.versions["raw_events"] = _read(lake, "raw_events", version, _RAW_COLUMNS)
    max_value_bytes = _max_value_bytes(settings)
    decoded = decode_raw_rows(_raw_rows(raw), max_value_bytes)
    expected = expected_results(decoded.events, config)
    expected.dead_letters = decoded.dead_letters + expected.dead_letters
    erased = read_ledger(ledger_paths(lake.uri, lake.prefix), lake.storage_options)
    scope = _ErasedScope.of(decoded.events, erased)
    expected = scope.expected(expected)
    if scope.active:
        result.skipped["erased sessions"] = (
            f"{len(scope.sessions)} sessions that {len(erased)} erasures name still have "
            "events in raw_events (other users' turns in a shared session): left out"
        )
        result.skipped["quality_metrics"] = (
            f"{len(erased)} erasures: metric windows keep the erased users' counts, which "
            "raw_events no longer holds"
        )
    _check_enriched(lake, expected, result, scope)
    if not scope.active:
        _check_metrics(lake, expected, result)
    _check_dead_letters(lake, expected, result, scope)
    own = [e.record for e in decoded.events if _is_own_signal(e) and scope.keeps(e.session_id)]
    result.compared["inferred signals"] = len(expected.inferred_signals)
    result.differences += compare_inferred_signals(expected.inferred_signals, own)
    return result


@dataclass(frozen=True)
class _ErasedScope:
    """What an erasure made impossible to recompute, left out on both sides: the sessions the
    ledger names (their remaining events, e.g. other users' turns in a group chat, would be
    compared with nothing), the turns it names, and the messages of those sessions."""

    erased: ErasedIdentities
    sessions: frozenset[str] = frozenset()
    coordinates: frozenset[tuple[str, int, int]] = frozenset()

    @classmethod
    def of(cls, events: list[InputEvent], erased: ErasedIdentities) -> "_ErasedScope":
        if not erased:
            return cls(erased)
        sessions = frozenset(e.session_id for e in events if erased.erasure_of(None, e.session_id))
        coordinates = frozenset(
            (e.topic, e.partition, e.offset) for e in events if e.session_id in sessions
        )
        return cls(erased, sessions, coordinates)

    def keeps(self, session_id: str | None) -> bool:
        return session_id not in self.sessions

    @property
    def active(self) -> bool:
        """Whether any erasure happened: then the metric windows cannot be recomputed."""
        return bool(self.erased)

    def keeps_turn(self, session_id: str | None, turn_id: str) -> bool:
        if not self.active:
            return True
        return self.keeps(session_id) and not self.erased.erasure_of_turn(turn_id)

    def expected(self, expected: ExpectedResults) -> ExpectedResults:
        """The reference's results less what the erasures left out (a copy)."""
        if not self.active:
            return expected
        return replace(
            expected,
            turns={
                turn_id: turn
                for turn_id, turn in expected.turns.items()
                if self.keeps_turn(turn.session_id, turn_id)
            },
            dead_letters=[
                d for d in expected.dead_letters if d.coordinates not in self.coordinates
            ],
            inferred_signals=[s for s in expected.inferred_signals if self.keeps(s["session_id"])],
        )


def _config(settings: ProcessorSettings | ReferenceConfig | None) -> ReferenceConfig:
    if isinstance(settings, ReferenceConfig):
        return settings
    return ReferenceConfig.from_settings(settings or ProcessorSettings())


def _max_value_bytes(settings: ProcessorSettings | ReferenceConfig | None) -> int:
    if isinstance(settings, ProcessorSettings):
        return settings.max_value_bytes
    return ProcessorSettings().max_value_bytes


def _read(
    lake: Lake, name: str, version: int | None, columns: list[str] | None = None
) -> tuple[pa.Table | None, int | None]:
    """The table at `version` (None: latest) and the version read; (None, None) if absent."""
    if not lake.exists(name):
        if version is not None:
            raise FileNotFoundError(f"no table {lake.path(name)} to read at version {version}")
        return None, None
    pinned = lake.open(name, version).version()
    return read_table(name, version=pinned, columns=columns, lake=lake), pinned


def _raw_rows(table: pa.Table | None) -> Iterator[RawRow]:
    if table is None:
        return
    stamps = pc.cast(table["kafka_timestamp"], pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    columns = [table[name].to_pylist() for name in _RAW_COLUMNS[:3]]
    keys, values = table["key"].to_pylist(), table["value"].to_pylist()
    for i, (topic, partition, offset) in enumerate(zip(*columns, strict=True)):
        yield RawRow(topic, partition, offset, stamps[i].as_py(), keys[i], values[i])


def _is_own_signal(event: InputEvent) -> bool:
    record = event.record
    return (
        event.kind == "signal"
        and record.get("source") == "inferred"
        and record.get("kind") == "abandoned"
        and is_inferred_abandoned(event.event_id, event.session_id, event.event_time)
    )


def _plain(value: Any) -> Any:
    """Lake values as the reference writes them: epoch ms for timestamps, dicts for maps."""
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MS
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _check_enriched(
    lake: Lake, expected: ExpectedResults, result: LakeVerification, scope: _ErasedScope
) -> None:
    table, result.versions["enriched_interactions"] = _read(lake, "enriched_interactions", None)
    latest: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist() if table is not None else []:
        current = latest.get(row["event_id"])
        if current is None or row["revision"] >= current["revision"]:
            latest[row["event_id"]] = row
    found = {}
    for event_id, row in latest.items():
        if not scope.keeps_turn(row["session_id"], event_id):
            continue
        record = _plain(row)
        record["context"] = dict(row.get("context") or [])
        found[event_id] = record
    result.compared["enriched_interactions"] = len(expected.turns.keys() | found.keys())
    result.differences += compare_enriched(expected.turns, found)


def _check_metrics(lake: Lake, expected: ExpectedResults, result: LakeVerification) -> None:
    table, result.versions["quality_metrics"] = _read(lake, "quality_metrics", None)
    found: dict[WindowKey, dict[str, Any]] = {}
    if table is not None:
        finals = table.filter(pc.field("is_final"))
        finals = finals.sort_by([("kafka_partition", "ascending"), ("kafka_offset", "ascending")])
        for row in finals.to_pylist():
            record = _plain(row)
            found[(record["agent_id"], record["agent_version"], record["window_start"])] = record
    result.compared["quality_metrics"] = len(expected.metrics.keys() | found.keys())
    result.differences += compare_metrics(expected.metrics, found)


def _check_dead_letters(
    lake: Lake, expected: ExpectedResults, result: LakeVerification, scope: _ErasedScope
) -> None:
    columns = ["source_topic", "source_partition", "source_offset", "reason", "detected_by"]
    table, result.versions["dead_letters"] = _read(lake, "dead_letters", None, columns)
    found = []
    for row in table.to_pylist() if table is not None else []:
        coordinates = (row["source_topic"], row["source_partition"], row["source_offset"])
        if (
            row["detected_by"] == "processor"
            and _is_input_topic(row["source_topic"])
            and coordinates not in scope.coordinates
        ):
            found.append((*coordinates, row["reason"]))
    result.compared["dead_letters"] = len(
        {d.coordinates for d in expected.dead_letters} | {f[:3] for f in found}
    )
    result.differences += compare_dead_letters(expected.dead_letters, found)


def _is_input_topic(name: str) -> bool:
    try:
        return topic_by_name(name).value_record in _INPUT_RECORDS
    except KeyError:
        return False
