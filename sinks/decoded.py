"""Messages of the processor's output topics -> rows of their decoded lake tables.

A message that cannot be decoded or converted does not stop the batch: it becomes a dead letter
(`dead_letters` table) with the reason, and the rest of the batch commits.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from schemas.catalog import SchemaCatalog, default_catalog
from schemas.exceptions import ContractError, UndecodableError
from schemas.lake import LakeTable
from schemas.serializer import SingleObjectSerializer
from sinks.columns import event_dates
from sinks.dead_letters import DeadLetterFactory
from sinks.messages import KafkaMessage, kafka_timestamp_ms

__all__ = ["ConvertedBatch", "DecodedConverter"]


@dataclass
class ConvertedBatch:
    """Rows for the route's table, and dead-letter rows for the messages that did not convert."""

    rows: pa.Table
    dead_letters: list[dict[str, Any]]


class DecodedConverter:
    """Decodes one record type with the shipped catalog and builds its table's Arrow rows."""

    def __init__(
        self,
        table: LakeTable,
        dead_letters: DeadLetterFactory,
        catalog: SchemaCatalog | None = None,
    ) -> None:
        if table.record_name is None:
            raise ValueError(f"{table.name} stores raw bytes, not a decoded record")
        catalog = catalog or default_catalog()
        self.table = table
        self.serializer = SingleObjectSerializer(table.record_name, catalog)
        self.schema = table.arrow_schema(catalog)
        self._row_schema = pa.schema([f for f in self.schema if f.name != "event_date"])
        self.dead_letters = dead_letters

    def convert(self, messages: Sequence[KafkaMessage]) -> ConvertedBatch:
        rows: list[dict[str, Any]] = []
        sources: list[KafkaMessage] = []
        failures: list[dict[str, Any]] = []
        decode = self.serializer.decode
        for message in messages:
            value = message.value()
            try:
                if value is None:
                    raise UndecodableError("empty message (no value)")
                row = decode(value)
            except ContractError as exc:
                failures.append(self.dead_letters.make(message, exc.reason, str(exc)))
                continue
            row["kafka_topic"] = message.topic()
            row["kafka_partition"] = message.partition()
            row["kafka_offset"] = message.offset()
            row["kafka_timestamp"] = kafka_timestamp_ms(message)
            rows.append(row)
            sources.append(message)
        try:
            table = self._to_arrow(rows)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            table, failures = self._isolate_bad_rows(rows, sources, failures)
        return ConvertedBatch(table, failures)

    def _to_arrow(self, rows: list[dict[str, Any]]) -> pa.Table:
        table = pa.Table.from_pylist(rows, schema=self._row_schema)
        for field in self._row_schema:
            if not field.nullable and table.column(field.name).null_count:
                raise ValueError(f"null in non-nullable column {field.name}")
        dates = event_dates(table.column(self.table.event_time_column).combine_chunks())
        return table.append_column(self.schema.field("event_date"), dates)

    def _isolate_bad_rows(
        self,
        rows: list[dict[str, Any]],
        sources: list[KafkaMessage],
        failures: list[dict[str, Any]],
    ) -> tuple[pa.Table, list[dict[str, Any]]]:
        """Slow path, only when a batch fails to convert: find the rows that do, one by one."""
        good: list[dict[str, Any]] = []
        for row, message in zip(rows, sources, strict=True):
            try:
                self._to_arrow([row])
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                failures.append(
                    self.dead_letters.make(
                        message,
                        "conversion_failed",
                        f"{self.table.name}: {type(exc).__name__}: {exc}",
                    )
                )
                continue
            good.append(row)
        return self._to_arrow(good), failures
