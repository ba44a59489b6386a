"""Dead letters made by the sink itself, as rows of the `dead_letters` table."""

from typing import Any

import pyarrow as pa

from schemas.catalog import SchemaCatalog, default_catalog
from schemas.lake import DEAD_LETTERS
from sinks.columns import event_dates, now_ms
from sinks.messages import KafkaMessage, kafka_timestamp_ms

__all__ = ["DETECTED_BY", "DeadLetterFactory"]

DETECTED_BY = "sink"


class DeadLetterFactory:
    """Builds dead-letter rows with the original bytes (bounded) and the source coordinates.

    The row's lineage columns are the source message's coordinates, so the Delta application
    transaction of that partition also covers the dead letter (no duplicate after a crash).
    """

    def __init__(self, max_original_bytes: int, catalog: SchemaCatalog | None = None) -> None:
        self.max_original_bytes = max_original_bytes
        self.schema = DEAD_LETTERS.arrow_schema(catalog or default_catalog())
        self._row_schema = pa.schema([f for f in self.schema if f.name != "event_date"])

    def make(self, message: KafkaMessage, reason: str, text: str) -> dict[str, Any]:
        value = message.value() or b""
        timestamp = kafka_timestamp_ms(message)
        return {
            "reason": reason,
            "message": text[:2000],
            "source_topic": message.topic(),
            "source_partition": message.partition(),
            "source_offset": message.offset(),
            "source_timestamp": timestamp,
            "key": message.key(),
            "original": value[: self.max_original_bytes],
            "original_size": len(value),
            "truncated": len(value) > self.max_original_bytes,
            "detected_by": DETECTED_BY,
            "detected_at": now_ms(),
            "kafka_topic": message.topic(),
            "kafka_partition": message.partition(),
            "kafka_offset": message.offset(),
            "kafka_timestamp": timestamp,
        }

    def to_arrow(self, rows: list[dict[str, Any]]) -> pa.Table:
        table = pa.Table.from_pylist(rows, schema=self._row_schema)
        dates = event_dates(table.column("detected_at").combine_chunks())
        return table.append_column(self.schema.field("event_date"), dates)
