"""Erasure of one user's data from every lake table, with a record of what was deleted.

A user's rows: the interactions with `user_id = X` and every row of those sessions in every
table (feedback, signals, enriched turns, dead letters: found through session_id, the Kafka key).
`quality_metrics` holds per-agent aggregates without user or session ids and is left as is.

Rows are deleted by their Kafka coordinates, so the Delta log (commitInfo keeps the delete
predicate) holds offsets, not ids. Deleted rows stay in older files until vacuum; `vacuum=True`
removes them at once (retention 0, only here), which also ends time travel to earlier versions.
The record goes to the `erasures` Delta table: counts, versions, a SHA-256 of the user id (to
answer "was X erased?"), never the data itself.
"""

import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, QUALITY_METRICS, RAW_EVENTS
from sinks.exceptions import LakeError
from sinks.lake import ERASURES_TABLE, Lake

__all__ = ["ERASURES_SCHEMA", "ErasureReport", "TableErasure", "erase_user"]

logger = logging.getLogger(__name__)

ERASURES_SCHEMA = pa.schema(
    [
        pa.field("erasure_id", pa.string(), nullable=False),
        pa.field("requested_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("user_id_sha256", pa.string(), nullable=False),
        pa.field("sessions", pa.int64(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("rows_deleted", pa.int64(), nullable=False),
        pa.field("version_before", pa.int64(), nullable=True),
        pa.field("version_after", pa.int64(), nullable=True),
        pa.field("selection", pa.string(), nullable=False),
        pa.field("vacuumed_files", pa.int64(), nullable=False),
    ]
)
_COORDINATES = ["kafka_topic", "kafka_partition", "kafka_offset"]
_ATTEMPTS = 10


@dataclass
class TableErasure:
    table_name: str
    rows_deleted: int = 0
    version_before: int | None = None
    version_after: int | None = None
    selection: str = ""
    vacuumed_files: int = 0


@dataclass
class ErasureReport:
    erasure_id: str
    requested_at: datetime
    user_id_sha256: str
    sessions: int
    tables: list[TableErasure] = field(default_factory=list)

    @property
    def rows_deleted(self) -> int:
        return sum(t.rows_deleted for t in self.tables)


def erase_user(lake: Lake, user_id: str, vacuum: bool = False) -> ErasureReport:
    """Delete every row of `user_id` from the lake, record it, optionally vacuum at once."""
    if not user_id:
        raise LakeError("an empty user id would match rows without a user: refused")
    report = ErasureReport(
        erasure_id=str(uuid.uuid4()),
        requested_at=datetime.now(UTC),
        user_id_sha256=hashlib.sha256(user_id.encode()).hexdigest(),
        sessions=0,
    )
    sessions = _sessions_of(lake, user_id)
    report.sessions = len(sessions)
    selectors = {
        RAW_EVENTS.name: lambda t: _raw_rows(t, user_id, sessions),
        ENRICHED_INTERACTIONS.name: lambda t: _enriched_rows(t, user_id, sessions),
        DEAD_LETTERS.name: lambda t: _dead_letter_rows(t, user_id, sessions),
    }
    for name, select in selectors.items():
        if not lake.exists(name):
            continue
        done = _delete_rows(lake, name, select)
        done.selection = (
            f"user_id = sha256:{report.user_id_sha256[:16]}… or session_id in "
            f"{len(sessions)} sessions; deleted by Kafka coordinates"
        )
        if vacuum:
            done.vacuumed_files = _vacuum_now(lake, name)
        report.tables.append(done)
    report.tables.append(
        TableErasure(QUALITY_METRICS.name, selection="kept: aggregates without user data")
    )
    _record(lake, report)
    logger.info(
        "erasure %s: %d rows of %d sessions deleted",
        report.erasure_id,
        report.rows_deleted,
        report.sessions,
    )
    return report


def _sessions_of(lake: Lake, user_id: str) -> set[str]:
    sessions: set[str] = set()
    for name in (RAW_EVENTS.name, ENRICHED_INTERACTIONS.name):
        if lake.exists(name):
            found = lake.open(name).to_pyarrow_table(
                columns=["session_id"], filters=pc.field("user_id") == user_id
            )
            sessions.update(s for s in found["session_id"].to_pylist() if s is not None)
    return sessions


def _raw_rows(table: DeltaTable, user_id: str, sessions: set[str]) -> pa.Table:
    data = table.to_pyarrow_table(columns=[*_COORDINATES, "user_id", "session_id"])
    decoded = data.filter(_by_user_or_session(data, user_id, sessions)).select(_COORDINATES)
    # Undecodable messages have no columns to go by: match their key and bytes.
    bad = table.to_pyarrow_table(
        columns=[*_COORDINATES, "key", "value"], filters=pc.field("decode_error").is_valid()
    )
    undecoded = bad.filter(_mentions(bad, "value", user_id, sessions)).select(_COORDINATES)
    return pa.concat_tables([decoded, undecoded])


def _enriched_rows(table: DeltaTable, user_id: str, sessions: set[str]) -> pa.Table:
    data = table.to_pyarrow_table(columns=[*_COORDINATES, "user_id", "session_id"])
    return data.filter(_by_user_or_session(data, user_id, sessions)).select(_COORDINATES)


def _dead_letter_rows(table: DeltaTable, user_id: str, sessions: set[str]) -> pa.Table:
    data = table.to_pyarrow_table(columns=[*_COORDINATES, "key", "original"])
    return data.filter(_mentions(data, "original", user_id, sessions)).select(_COORDINATES)


def _by_user_or_session(data: pa.Table, user_id: str, sessions: set[str]) -> pa.ChunkedArray:
    by_user = pc.fill_null(pc.equal(data["user_id"], user_id), False)
    in_session = pc.is_in(data["session_id"], value_set=pa.array(sorted(sessions), pa.string()))
    return pc.or_(by_user, pc.fill_null(in_session, False))


def _mentions(data: pa.Table, column: str, user_id: str, sessions: set[str]) -> pa.Array:
    """Rows whose key is one of the sessions or whose bytes contain the user or a session id."""
    keys = {s.encode() for s in sessions}
    needles = [user_id.encode(), *keys]
    flags = [
        key in keys or (blob is not None and any(n in blob for n in needles))
        for key, blob in zip(data["key"].to_pylist(), data[column].to_pylist(), strict=True)
    ]
    return pa.array(flags, pa.bool_())


def _delete_rows(lake: Lake, name: str, select: Callable[[DeltaTable], pa.Table]) -> TableErasure:
    for attempt in range(1, _ATTEMPTS + 1):
        table = lake.open(name)
        before = table.version()
        rows = select(table)
        result = TableErasure(name, version_before=before, version_after=before)
        if rows.num_rows == 0:
            return result
        try:
            metrics = table.delete(_coordinates_predicate(rows))
        except CommitFailedError:
            logger.info("erasure of %s conflicted with a concurrent commit; retrying", name)
            time.sleep(0.1 * attempt)
            continue
        result.rows_deleted = int(metrics.get("num_deleted_rows", rows.num_rows))
        result.version_after = table.version()
        return result
    raise LakeError(f"could not delete from {lake.path(name)}: constant concurrent commits")


def _coordinates_predicate(rows: pa.Table) -> str:
    offsets: dict[tuple[str, int], list[int]] = defaultdict(list)
    for topic, partition, offset in zip(*(rows[c].to_pylist() for c in _COORDINATES), strict=True):
        offsets[(topic, partition)].append(offset)
    clauses = []
    for (topic, partition), values in sorted(offsets.items()):
        quoted = topic.replace("'", "''")
        listed = ", ".join(str(v) for v in sorted(values))
        clauses.append(
            f"(kafka_topic = '{quoted}' AND kafka_partition = {partition} "
            f"AND kafka_offset IN ({listed}))"
        )
    return " OR ".join(clauses)


def _vacuum_now(lake: Lake, name: str) -> int:
    """Remove the files the delete replaced, now (retention 0, enforcement off: only here)."""
    table = lake.open(name)
    removed = table.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    return len(removed)


def _record(lake: Lake, report: ErasureReport) -> None:
    rows = [
        {
            "erasure_id": report.erasure_id,
            "requested_at": report.requested_at,
            "user_id_sha256": report.user_id_sha256,
            "sessions": report.sessions,
            **asdict(table),
        }
        for table in report.tables
    ]
    write_deltalake(
        lake.path(ERASURES_TABLE),
        pa.Table.from_pylist(rows, schema=ERASURES_SCHEMA),
        mode="append",
        storage_options=lake.storage_options or None,
    )
