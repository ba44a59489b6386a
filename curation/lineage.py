"""Lineage fields every output row carries: where in Kafka and the lake each turn came from."""

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

__all__ = ["COORDINATE_TYPE", "LINEAGE_FIELDS", "coordinates"]

# topic/partition/offset: the enriched record the lake row came from; interaction_*: the
# original interaction message (from raw_events; null unless curation ran with raw lineage).
COORDINATE_TYPE = pa.struct(
    [
        pa.field("event_id", pa.string()),
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("interaction_topic", pa.string()),
        pa.field("interaction_partition", pa.int32()),
        pa.field("interaction_offset", pa.int64()),
    ]
)
LINEAGE_FIELDS = [
    pa.field("session_id", pa.string()),
    pa.field("event_ids", pa.list_(pa.string())),
    pa.field("kafka_coordinates", pa.list_(COORDINATE_TYPE)),
    pa.field("delta_version", pa.int64()),
]


def coordinates(turns: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Kafka coordinates of each turn, in order: its enriched record, its interaction."""
    return [
        {
            "event_id": turn["event_id"],
            "topic": turn["kafka_topic"],
            "partition": turn["kafka_partition"],
            "offset": turn["kafka_offset"],
            "interaction_topic": turn.get("interaction_topic"),
            "interaction_partition": turn.get("interaction_partition"),
            "interaction_offset": turn.get("interaction_offset"),
        }
        for turn in turns
    ]
