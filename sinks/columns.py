"""Small Arrow column helpers shared by the converters."""

import time

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["event_dates", "now_ms"]

_DAY_MS = 86_400_000


def event_dates(*timestamps: pa.Array) -> pa.Array:
    """UTC date of the first non-null timestamp of each row (today when all are null)."""
    merged = pc.coalesce(*timestamps, pa.scalar(now_ms(), pa.timestamp("ms", tz="UTC")))
    days = pc.divide(merged.cast(pa.int64()), _DAY_MS)  # integer division, floors (epoch >= 0)
    return days.cast(pa.int32()).cast(pa.date32())


def now_ms() -> int:
    return time.time_ns() // 1_000_000
