"""Catches input offsets that never reached the processor, and reads them again.

The Redis checkpoint holds the last offset applied per input topic partition; the next event of
that partition must be the one right after it. In rebalance runs we saw the consumer layer skip
a stretch of a newly assigned partition (the events were in Kafka, none reached the agent), and
those turns were silently missing from the output. So every event is checked against the
checkpoint: after a gap, the partition is sought back to the checkpoint and its events are
dropped until the missing offset arrives (events already fetched past the gap come first).

A partition nothing was applied from yet has no checkpoint; the runtime checks it against the
partition's log start instead (`ProcessorRuntime._learn_log_starts`).

A gap can also be genuine: transaction markers and compaction leave offsets without a record.
Once the partition was sought back `max_attempts` times (`settle_s` apart) and still goes on at
the same offset after the gap, the gap is accepted (and logged).
"""

import logging
from dataclasses import dataclass
from enum import Enum

from faust.types import TP

__all__ = ["GapVerdict", "OffsetGaps"]

log = logging.getLogger(__name__)


class GapVerdict(Enum):
    APPLY = "apply"  # the next offset, or a gap accepted as genuine
    DROP = "drop"  # after a gap: wait for the partition to be read again from the checkpoint


@dataclass
class _Rewind:
    expected: int
    gap_at: int
    sought_at: float
    attempts: int


class OffsetGaps:
    """Per input topic partition, whether events arrive right after the checkpoint."""

    def __init__(self, settle_s: float = 5.0, max_attempts: int = 3) -> None:
        self.settle_s = settle_s
        self.max_attempts = max_attempts
        self.gaps_seen = 0
        self._rewinding: dict[TP, _Rewind] = {}
        self._seeks: dict[TP, int] = {}

    @property
    def rewinding(self) -> bool:
        """Some partition is being read again: every event must go through `check`."""
        return bool(self._rewinding)

    def check(self, tp: TP, offset: int, checkpoint: int | None, now_s: float) -> GapVerdict:
        """Verdict on an event at `offset` (above the checkpoint) of `tp`."""
        if checkpoint is None or offset == checkpoint + 1:
            self._rewinding.pop(tp, None)
            return GapVerdict.APPLY
        rewind = self._rewinding.get(tp)
        if rewind is None or rewind.expected != checkpoint + 1:
            self.gaps_seen += 1
            log.warning(
                "offsets %d..%d of %s[%d] never arrived: reading them again",
                checkpoint + 1,
                offset - 1,
                tp.topic,
                tp.partition,
            )
            self._rewinding[tp] = _Rewind(checkpoint + 1, offset, now_s, 1)
            self._seeks[tp] = checkpoint + 1
            return GapVerdict.DROP
        if rewind.attempts >= self.max_attempts and offset == rewind.gap_at:
            # Read again from the checkpoint that many times, the partition still goes on here.
            log.warning(
                "offsets %d..%d of %s[%d] hold no records (transaction markers or compaction): "
                "continuing at %d",
                rewind.expected,
                offset - 1,
                tp.topic,
                tp.partition,
                offset,
            )
            del self._rewinding[tp]
            return GapVerdict.APPLY
        if now_s - rewind.sought_at < self.settle_s:
            return GapVerdict.DROP  # fetched before the seek took effect, or read again
        rewind.attempts += 1
        rewind.sought_at = now_s
        self._seeks[tp] = rewind.expected
        return GapVerdict.DROP

    def take_seeks(self) -> dict[TP, int]:
        """The seeks to do now (partition -> offset)."""
        seeks, self._seeks = self._seeks, {}
        return seeks

    def forget(self, partition: int) -> None:
        """A revoked partition: its next owner starts from the committed checkpoint anyway."""
        for tp in [tp for tp in self._rewinding if tp.partition == partition]:
            del self._rewinding[tp]
        for tp in [tp for tp in self._seeks if tp.partition == partition]:
            del self._seeks[tp]
