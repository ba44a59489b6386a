"""Prometheus series of a processor worker (`feedback_processor_*`, see plumbing.observability)."""

from plumbing.observability import counter, gauge, histogram

__all__ = [
    "DEAD_LETTERS",
    "DUPLICATES",
    "EVENTS_IN",
    "OUTPUTS",
    "PARTITIONS_OWNED",
    "STEP_DURATION",
    "WATERMARK",
]

EVENTS_IN = counter("processor", "events_in", "Input messages handled.", ["topic"])
DUPLICATES = counter("processor", "duplicates", "Input events dropped as duplicates (event_id).")
DEAD_LETTERS = counter("processor", "dead_letters", "Dead letters produced.", ["reason"])
OUTPUTS = counter("processor", "outputs", "Records produced.", ["topic"])
STEP_DURATION = histogram(
    "processor",
    "step_duration",
    "Wall time of one processing step (batch or tick), outputs and checkpoint included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
WATERMARK = gauge(
    "processor",
    "watermark",
    "Event-time watermark of an owned partition (epoch ms).",
    ["partition"],
)
PARTITIONS_OWNED = gauge("processor", "partitions_owned", "Input partitions this worker owns.")
