"""Erasure of one user's data from every lake table, with a record of what was deleted.

A user's rows: the rows with `user_id = X`, and the rows of that user's sessions that name no
other user, in every table, matched on decoded identifiers only (`sinks.erasure_match`): a
substring of bytes says nothing about whose a row is. `quality_metrics` holds per-agent
aggregates without user or session ids and is left as is.

Rows are deleted by their Kafka coordinates, so the Delta log (commitInfo keeps the delete
predicate) holds offsets, not ids. Deleted rows stay in older files until vacuum; `vacuum=True`
removes them at once (retention 0, only here), which also ends time travel to earlier versions.
The record goes to the erasure ledger, the `erasures` Delta table (contract in
`schemas.erasure_ledger`): counts, versions, salted hashes of the user id and of the sessions
removed (so replays, backfills and curated datasets can recognise them), and the Kafka topics
that keep copies and until when (`sinks.erasure_copies`); never the data itself.
"""

import logging
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

from schemas.erasure_ledger import ERASURES_SCHEMA, LedgerEntry, salted_sha256
from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, QUALITY_METRICS, RAW_EVENTS
from sinks.erasure_attachments import AttachmentErasure, erase_attachments
from sinks.erasure_copies import KafkaCopy, kafka_copies, last_message_by_topic
from sinks.erasure_match import COORDINATES, Selection, UserRows
from sinks.exceptions import LakeError
from sinks.lake import ERASURES_TABLE, Lake

__all__ = ["ERASURES_SCHEMA", "ErasureReport", "TableErasure", "erase_user"]

logger = logging.getLogger(__name__)

_ATTEMPTS = 10


@dataclass
class TableErasure:
    """What one table lost (or, in a dry run, would lose).

    `unattributed_rows`: rows holding only bytes that do not decode and carry no session key;
    nothing says whose they are, so they are kept, and counted here for a look by hand.
    """

    table_name: str
    rows_matched: int = 0
    rows_deleted: int = 0
    version_before: int | None = None
    version_after: int | None = None
    selection: str = ""
    vacuumed_files: int = 0
    unattributed_rows: int = 0
    # Latest Kafka timestamp of the matched rows per topic: how long Kafka keeps a copy.
    last_message_by_topic: dict[str, datetime] = field(default_factory=dict)


@dataclass
class ErasureReport:
    """What an erasure did, and where copies remain; `ledger_entry` is how others recognise it."""

    erasure_id: str
    requested_at: datetime
    id_salt: str
    user_id_sha256: str  # salted: SHA-256 of id_salt + user id
    sessions: int
    session_ids_sha256: list[str] = field(default_factory=list)
    # Turns (of other users' sessions) that held feedback the user gave, salted hashes.
    turn_ids_sha256: list[str] = field(default_factory=list)
    tables: list[TableErasure] = field(default_factory=list)
    dry_run: bool = False
    recorded: bool = False  # a row per table went to the `erasures` table
    attachments: AttachmentErasure = field(default_factory=AttachmentErasure)

    @property
    def kafka_copies(self) -> list[KafkaCopy]:
        """Topics that keep the user's messages after the erasure, and until when."""
        return kafka_copies(t.last_message_by_topic for t in self.tables)

    def ledger_entry(self) -> LedgerEntry:
        return LedgerEntry(
            self.erasure_id,
            self.id_salt,
            self.user_id_sha256,
            frozenset(self.session_ids_sha256),
            frozenset(self.turn_ids_sha256),
        )

    @property
    def rows_matched(self) -> int:
        return sum(t.rows_matched for t in self.tables)

    @property
    def rows_deleted(self) -> int:
        return sum(t.rows_deleted for t in self.tables)

    @property
    def unattributed_rows(self) -> int:
        return sum(t.unattributed_rows for t in self.tables)


def erase_user(
    lake: Lake, user_id: str, vacuum: bool = False, dry_run: bool = False
) -> ErasureReport:
    """Delete every row of `user_id` from the lake, record it, optionally vacuum at once.

    `dry_run` finds the rows and reports them, writing nothing. An erasure that finds nothing
    writes nothing either (no delete, no vacuum, no record): no table gets a new version.
    """
    if not user_id:
        raise LakeError("an empty user id would match rows without a user: refused")
    salt = _ledger_salt(lake)
    report = ErasureReport(
        erasure_id=str(uuid.uuid4()),
        requested_at=datetime.now(UTC),
        id_salt=salt,
        user_id_sha256=salted_sha256(salt, user_id),
        sessions=0,
        dry_run=dry_run,
    )
    finder = UserRows(lake, user_id)
    report.sessions = len(finder.sessions)
    report.session_ids_sha256 = sorted(salted_sha256(salt, s) for s in finder.sessions)
    report.turn_ids_sha256 = sorted(salted_sha256(salt, t) for t in finder.rated_turns)
    selection = (
        f"user_id = salted sha256:{report.user_id_sha256[:16]}… or session_id in "
        f"{report.sessions} sessions and no other user_id (decoded ids only); deleted by Kafka "
        "coordinates"
    )
    for name in (RAW_EVENTS.name, ENRICHED_INTERACTIONS.name, DEAD_LETTERS.name):
        select = finder.selector(name)
        if select is None or not lake.exists(name):
            continue
        done = _find_rows(lake, name, select) if dry_run else _delete_rows(lake, name, select)
        done.selection = selection
        report.tables.append(done)
    report.tables.append(
        TableErasure(QUALITY_METRICS.name, selection="kept: aggregates without user data")
    )
    report.attachments = erase_attachments(
        lake,
        finder.sessions,
        dry_run,
        keep=lambda sessions: finder.attachments_of_others(lake, sessions),
        files=finder.rated_attachments,
    )
    if dry_run or report.rows_matched == 0:
        logger.info(
            "erasure %s: %d rows of %d sessions %s; nothing written",
            report.erasure_id,
            report.rows_matched,
            report.sessions,
            "would go (dry run)" if dry_run else "matched",
        )
        return report
    if vacuum:
        for done in report.tables:
            if done.rows_deleted:
                done.vacuumed_files = _vacuum_now(lake, done.table_name)
    _record(lake, report)
    report.recorded = True
    logger.info(
        "erasure %s: %d rows of %d sessions deleted",
        report.erasure_id,
        report.rows_deleted,
        report.sessions,
    )
    return report


def _find_rows(lake: Lake, name: str, select: Callable[[DeltaTable], Selection]) -> TableErasure:
    table = lake.open(name)
    found = select(table)
    return TableErasure(
        name,
        rows_matched=found.rows.num_rows,
        version_before=table.version(),
        version_after=table.version(),
        unattributed_rows=found.unattributed,
        last_message_by_topic=last_message_by_topic(found.rows),
    )


def _delete_rows(lake: Lake, name: str, select: Callable[[DeltaTable], Selection]) -> TableErasure:
    for attempt in range(1, _ATTEMPTS + 1):
        table = lake.open(name)
        before = table.version()
        found = select(table)
        rows = found.rows
        result = TableErasure(
            name,
            rows_matched=rows.num_rows,
            version_before=before,
            version_after=before,
            unattributed_rows=found.unattributed,
            last_message_by_topic=last_message_by_topic(rows),
        )
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
    for topic, partition, offset in zip(*(rows[c].to_pylist() for c in COORDINATES), strict=True):
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


def _ledger_salt(lake: Lake) -> str:
    """The ledger's salt: the one its records use, or a new one for a new ledger.

    One salt per ledger keeps a check cheap (hash a message's ids once, not once per erasure);
    two erasures starting a ledger at once may pick two salts, which readers handle.
    """
    if lake.exists(ERASURES_TABLE):
        table = lake.open(ERASURES_TABLE)
        if "id_salt" in table.schema().to_arrow().names:
            salts = table.to_pyarrow_table(columns=["id_salt"])["id_salt"].drop_null()
            if len(salts):
                return str(salts[0].as_py())
    return secrets.token_hex(16)


def _record(lake: Lake, report: ErasureReport) -> None:
    copies = [copy.as_row() for copy in report.kafka_copies]
    rows = [
        {
            "erasure_id": report.erasure_id,
            "requested_at": report.requested_at,
            "user_id_sha256": report.user_id_sha256,
            "sessions": report.sessions,
            "table_name": table.table_name,
            "rows_deleted": table.rows_deleted,
            "version_before": table.version_before,
            "version_after": table.version_after,
            "selection": table.selection,
            "vacuumed_files": table.vacuumed_files,
            "unattributed_rows": table.unattributed_rows,
            "id_salt": report.id_salt,
            "session_ids_sha256": report.session_ids_sha256,
            "kafka_copies": copies,
            "turn_ids_sha256": report.turn_ids_sha256,
        }
        for table in report.tables
    ]
    write_deltalake(
        lake.path(ERASURES_TABLE),
        pa.Table.from_pylist(rows, schema=ERASURES_SCHEMA),
        mode="append",
        schema_mode="merge",  # an erasures table written before its later columns existed
        storage_options=lake.storage_options or None,
    )
