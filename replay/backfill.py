"""Re-publishes the lake's raw events of a time range to a replay namespace's input topics.

Kafka's retention ends; the lake's `raw_events` table keeps every input message as received, with
its topic, partition and offset. Sorting by those coordinates and writing each record back to
the same partition number restores the original order of every session. Rows of users in the
erasure ledger (the lake's and the table prefix's, `replay.ledger`) are not published: a
version pinned before an erasure, or the user's traffic after it, must not bring them back.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from replay.exceptions import ReplayError
from replay.ledger import erased_messages
from replay.publisher import NamespacePublisher, copied_records_kept, prepare_namespace_topics
from replay.settings import ReplaySettings
from schemas.lake import RAW_EVENTS
from schemas.topics import INPUT_TOPICS

__all__ = ["BackfillResult", "backfill_from_lake"]

_COLUMNS = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp", "key", "value"]


@dataclass(frozen=True)
class BackfillResult:
    namespace: str
    table_version: int
    records: int
    seconds: float
    skipped_erased: int = 0  # rows of erased users or sessions, not published
    erasures: int = 0  # ledger entries the backfill obeyed

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def backfill_from_lake(
    settings: ReplaySettings,
    target: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
    version: int | None = None,
    table_prefix: str = "",
    source_namespace: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillResult:
    """Publish raw events with start_ms <= Kafka timestamp < end_ms, from a pinned table version."""
    started = time.monotonic()
    path = RAW_EVENTS.path(settings.lake_uri, table_prefix)
    try:
        table = DeltaTable(path, version=version)
    except Exception as exc:
        raise ReplayError(f"cannot open {path} (version {version}): {exc}") from exc
    pinned = table.version()
    erased = erased_messages(
        settings.lake_uri, table_prefix, f"{source_namespace}/" if source_namespace else ""
    )
    rows = _select(table.to_pyarrow_dataset(), source_namespace, start_ms, end_ms)
    targets = prepare_namespace_topics(settings.bootstrap_servers, target)
    live_names = [spec.in_namespace(source_namespace).name for spec in INPUT_TOPICS]
    target_of = dict(zip(live_names, [t.name for t in targets], strict=True))
    publisher = NamespacePublisher(settings.bootstrap_servers, settings.max_message_bytes)
    total = rows.num_rows
    columns = {name: rows.column(name).to_pylist() for name in _COLUMNS}
    with copied_records_kept(settings.bootstrap_servers, targets, publisher):
        for index in range(total):
            if erased.erased(columns["key"][index], columns["value"][index]):
                continue
            timestamp = columns["kafka_timestamp"][index]
            publisher.publish(
                target_of[columns["kafka_topic"][index]],
                columns["kafka_partition"][index],
                columns["key"][index],
                columns["value"][index],
                int(timestamp.timestamp() * 1000) if timestamp is not None else 0,
            )
            if index % 5000 == 0:
                publisher.poll()
                if progress is not None:
                    progress(index, total)
        publisher.flush(settings.timeout_s)
    if progress is not None:
        progress(total, total)
    return BackfillResult(
        target,
        pinned,
        total - erased.skipped,
        time.monotonic() - started,
        erased.skipped,
        len(erased.identities),
    )


def _select(dataset, source_namespace: str | None, start_ms: int | None, end_ms: int | None):
    names = [spec.in_namespace(source_namespace).name for spec in INPUT_TOPICS]
    condition = pc.scalar(True)
    if start_ms is not None:
        condition &= pc.field("kafka_timestamp") >= _timestamp(start_ms)
    if end_ms is not None:
        condition &= pc.field("kafka_timestamp") < _timestamp(end_ms)
    # The topic filter runs on the rows read, not in the scan: the sink keeps string statistics
    # of `kafka_topic`, which delta-rs hands pyarrow as string_view, and pyarrow's pruning then
    # fails to compare them with a string ("no kernel matching (string, string_view)").
    rows: pa.Table = dataset.to_table(columns=_COLUMNS, filter=condition)
    rows = rows.filter(pc.is_in(rows["kafka_topic"], value_set=pa.array(names, pa.string())))
    return rows.sort_by(
        [
            ("kafka_topic", "ascending"),
            ("kafka_partition", "ascending"),
            ("kafka_offset", "ascending"),
        ]
    )


def _timestamp(epoch_ms: int) -> pa.Scalar:
    return pa.scalar(datetime.fromtimestamp(epoch_ms / 1000, tz=UTC), pa.timestamp("ms", tz="UTC"))
