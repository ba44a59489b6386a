"""One round of the metrics finalizer, apart from where its state lives.

The finalizer reads every partition's bound, and publishes the windows they all passed. A
partition whose persisted bound does not hold windows back (idle) can wake up at any moment on
another worker, so the round announces how far it is about to publish, then reads the bounds
again and publishes no further than both readings allow; a woken partition persists its new
bound first and reads the announcement next (PartitionProcessor, "finals"). Whichever of the two
writes comes first, the other's read sees it: either the round holds back for the partition, or
the partition puts its late contributions past the announced point.
"""

from collections.abc import Mapping
from typing import Any, Protocol

from stream_processors.finalizer import MetricsFinalizer
from stream_processors.metrics import WindowPartial
from stream_processors.partition import PartitionProcessor, WindowKey

__all__ = ["MetricsState", "finalize_round"]


class MetricsState(Protocol):
    """The shared state a round reads and writes (MetricsCollector: Redis)."""

    def bounds(
        self, processors: Mapping[int, PartitionProcessor]
    ) -> tuple[dict[int, int | str | None], int | None]: ...

    def announce(self, until: int) -> None: ...

    def partials(
        self,
        processors: Mapping[int, PartitionProcessor],
        finalized_until: int | None,
        max_end: int | None,
    ) -> dict[WindowKey, dict[int, WindowPartial]]: ...


def finalize_round(
    finalizer: MetricsFinalizer,
    state: MetricsState,
    processors: Mapping[int, PartitionProcessor],
    now: float,
    updates_due: bool,
) -> list[dict[str, Any]]:
    """Final records of the windows every partition passed, then running updates if due.

    `processors`: this worker's own partitions (read from memory, not from `state`).
    """
    watermarks, furthest = state.bounds(processors)
    final_until = finalizer.final_until(watermarks, furthest)
    announced = None
    if final_until is not None and (
        finalizer.finalized_until is None or final_until > finalizer.finalized_until
    ):
        state.announce(final_until)
        announced = final_until
        watermarks, furthest = state.bounds(processors)
        final_until = finalizer.final_until(watermarks, furthest)
        if final_until is not None:
            final_until = min(final_until, announced)
    finals_due = final_until is not None and (
        finalizer.finalized_until is None or final_until > finalizer.finalized_until
    )
    if not (finals_due or updates_due):
        return []
    partials = state.partials(
        processors, finalizer.finalized_until, None if updates_due else final_until
    )
    return finalizer.step(watermarks, partials, now, furthest, limit=announced)
