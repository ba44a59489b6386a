"""Appends micro-batches to one Delta table exactly once per Kafka offset.

Each commit carries, in the same Delta commit, one application transaction per Kafka partition
(`<sink>-<topic>-<partition>`, version = last offset written). Before writing, rows at or below
the table's recorded version are dropped; the check and the commit use the same snapshot, so a
concurrent writer that committed the same partition makes our commit fail (`CommitFailedError`),
and we reload and check again. Two sinks can never both commit the same offsets.
"""

import logging
import os
import socket
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError

from schemas.lake import LakeTable
from sinks.crash_points import crash_point, watch_for_new_files
from sinks.exceptions import SinkError
from sinks.maintenance import (
    DEFAULT_CHECKPOINT_INTERVAL,
    checkpoint_configuration,
    set_checkpoint_interval,
)

__all__ = ["STATS_COLUMNS", "CommitResult", "LakeTableWriter", "PartitionKey", "app_id"]

logger = logging.getLogger(__name__)

PartitionKey = tuple[str, int]

# Column statistics (min/max in the Delta log) only on columns that hold no personal data: the
# log outlives a deletion until log cleanup, so user_id, prompts, session ids get no stats.
_LINEAGE = ("kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp")
STATS_COLUMNS: dict[str, tuple[str, ...]] = {
    "raw_events": (*_LINEAGE, "record_name", "event_time"),
    "enriched_interactions": (
        *_LINEAGE,
        "agent_id",
        "agent_version",
        "event_time",
        "revision",
        "session_outcome",
    ),
    "quality_metrics": (*_LINEAGE, "agent_id", "agent_version", "window_start", "update_seq"),
    "dead_letters": (*_LINEAGE, "source_topic", "source_partition", "source_offset"),
}
MAX_COMMIT_ATTEMPTS = 20


def app_id(sink_name: str, topic: str, partition: int) -> str:
    """The Delta application id that records how far `sink_name` wrote a Kafka partition."""
    return f"{sink_name}-{topic}-{partition}"


@dataclass(frozen=True)
class CommitResult:
    """What one append did: rows written (after dropping already-written offsets), version."""

    rows: int
    skipped_rows: int
    version: int | None
    attempts: int

    @property
    def conflicts(self) -> int:
        return self.attempts - 1


class LakeTableWriter:
    """The sink's handle on one lake table: creates it, reads its offsets, appends batches."""

    def __init__(
        self,
        table: LakeTable,
        lake_uri: str,
        prefix: str,
        sink_name: str,
        storage_options: dict[str, str] | None = None,
        schema: pa.Schema | None = None,
        checkpoint_interval: int = DEFAULT_CHECKPOINT_INTERVAL,
    ) -> None:
        self.table = table
        self.checkpoint_interval = checkpoint_interval
        self.uri = table.path(lake_uri, prefix)
        self.sink_name = sink_name
        self.storage_options = storage_options or None
        self.schema = schema or table.arrow_schema()
        self._delta: DeltaTable | None = None
        self._merge_schema = False
        # Who wrote a commit shows in `feedbackctl lake history`.
        self._commit_metadata = {
            "sink_name": sink_name,
            "sink_host": socket.gethostname(),
            "sink_pid": str(os.getpid()),
        }

    @property
    def delta(self) -> DeltaTable:
        if self._delta is None:
            self._delta = self._open_or_create()
            self._merge_schema = self._schema_differs(self._delta)
        return self._delta

    def _schema_differs(self, delta: DeltaTable) -> bool:
        """True when the contract gained (or lost) columns since the table was created.

        The next append then merges the schemas: new columns are added (null in older rows),
        so an additive Avro change needs no migration. Type changes are breaking and fail.
        """
        existing = set(delta.schema().to_arrow().names)
        differs = existing != set(self.schema.names)
        if differs:
            logger.info(
                "%s: contract columns differ from the table's (new: %s, gone: %s); merging",
                self.table.name,
                sorted(set(self.schema.names) - existing),
                sorted(existing - set(self.schema.names)),
            )
        return differs

    def committed_offset(self, topic: str, partition: int, refresh: bool = True) -> int | None:
        """Last offset of the partition in the table (None: never written), per the Delta log."""
        if refresh:
            self.delta.update_incremental()
        return self.delta.transaction_version(app_id(self.sink_name, topic, partition))

    def append(self, data: pa.Table, offsets: dict[PartitionKey, int]) -> CommitResult:
        """Append the rows not yet in the table and record `offsets` (last offset per partition).

        A partition's transaction is recorded even when all its rows went elsewhere (dead letters),
        so the table always knows how far each partition was read.
        """
        for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
            delta = self.delta
            written = {key: self._version(key) for key in offsets}
            fresh = _drop_written(data, written)
            transactions = [
                Transaction(app_id(self.sink_name, *key), last)
                for key, last in offsets.items()
                if last > _or_none(written[key])
            ]
            if not transactions:
                return CommitResult(0, data.num_rows, None, attempt)
            crash_point("before_write")
            write_returned = watch_for_new_files(self.uri) if fresh.num_rows else None
            try:
                write_deltalake(
                    delta,
                    fresh,
                    mode="append",
                    partition_by=list(self.table.partition_by),
                    schema_mode="merge" if self._merge_schema else None,
                    commit_properties=CommitProperties(
                        app_transactions=transactions, custom_metadata=self._commit_metadata
                    ),
                )
            except CommitFailedError as exc:
                # Someone committed to this table since our snapshot; if it was one of our
                # partitions the re-check drops those rows, else the retry just succeeds.
                logger.info("commit to %s conflicted (%s), reloading", self.table.name, exc)
                delta.update_incremental()
                time.sleep(min(0.05 * attempt, 0.5))
                continue
            finally:
                if write_returned is not None:
                    write_returned()
            self._merge_schema = False
            crash_point("after_commit")
            skipped = data.num_rows - fresh.num_rows
            return CommitResult(fresh.num_rows, skipped, delta.version(), attempt)
        raise SinkError(
            f"could not commit to {self.uri} after {MAX_COMMIT_ATTEMPTS} attempts "
            "(constant conflicts: is another process rewriting the table?)"
        )

    def _version(self, key: PartitionKey) -> int | None:
        return self.delta.transaction_version(app_id(self.sink_name, *key))

    def _open_or_create(self) -> DeltaTable:
        if DeltaTable.is_deltatable(self.uri, self.storage_options):
            delta = DeltaTable(self.uri, storage_options=self.storage_options)
            # Tables created before the setting, or with another interval: one metadata commit.
            set_checkpoint_interval(delta, self.checkpoint_interval)
            return delta
        try:
            return DeltaTable.create(
                self.uri,
                self.schema,
                mode="ignore",
                partition_by=list(self.table.partition_by),
                name=self.table.name,
                configuration={
                    "delta.dataSkippingStatsColumns": ",".join(STATS_COLUMNS[self.table.name]),
                    **checkpoint_configuration(self.checkpoint_interval),
                },
                storage_options=self.storage_options,
            )
        except (CommitFailedError, DeltaError):
            # Another sink created it at the same moment.
            if DeltaTable.is_deltatable(self.uri, self.storage_options):
                return DeltaTable(self.uri, storage_options=self.storage_options)
            raise


def _or_none(offset: int | None) -> int:
    return -1 if offset is None else offset


def _drop_written(data: pa.Table, written: dict[PartitionKey, int | None]) -> pa.Table:
    """Rows whose (topic, partition) is past its written offset."""
    masks = []
    for (topic, partition), last in written.items():
        if last is None:
            continue
        masks.append(
            pc.and_(
                pc.and_(
                    pc.equal(data["kafka_topic"], topic),
                    pc.equal(data["kafka_partition"], partition),
                ),
                pc.less_equal(data["kafka_offset"], last),
            )
        )
    if not masks or data.num_rows == 0:
        return data
    already = masks[0]
    for mask in masks[1:]:
        already = pc.or_(already, mask)
    if not pc.any(already).as_py():
        return data
    return data.filter(pc.invert(already))
