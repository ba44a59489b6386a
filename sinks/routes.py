"""Which topic goes to which lake table, and how its messages are converted."""

from dataclasses import dataclass
from typing import Literal

from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, QUALITY_METRICS, RAW_EVENTS, LakeTable
from schemas.topics import DEADLETTER, ENRICHED, INPUT_TOPICS, METRICS, TopicSpec

__all__ = ["Route", "sink_routes"]

Conversion = Literal["raw", "decoded"]


@dataclass(frozen=True)
class Route:
    """One topic's destination: `raw` keeps the bytes as received, `decoded` writes the record's
    columns (records that do not convert go to dead_letters)."""

    topic: TopicSpec
    table: LakeTable
    conversion: Conversion


def sink_routes(namespace: str = "") -> dict[str, Route]:
    """The sink's routes by topic name; a replay namespace renames every topic."""
    routes = [Route(topic.in_namespace(namespace), RAW_EVENTS, "raw") for topic in INPUT_TOPICS]
    routes += [
        Route(ENRICHED.in_namespace(namespace), ENRICHED_INTERACTIONS, "decoded"),
        Route(METRICS.in_namespace(namespace), QUALITY_METRICS, "decoded"),
        Route(DEADLETTER.in_namespace(namespace), DEAD_LETTERS, "decoded"),
    ]
    return {route.topic.name: route for route in routes}
