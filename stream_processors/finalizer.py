"""Merging every partition's window partials into the published quality metrics.

Runs on the worker that owns input partition 0 (one publisher at a time, state in partition 0).
A window is final when every input partition's applied watermark has passed its end; its record
is the merge of all partitions' partials (deterministic: partials are frozen once their own
partition's watermark passed the window). Final records carry `update_seq = FINAL_SEQ`, a
constant, so a replay gives byte-identical final records. Open windows get running updates
(`is_final = false`, `update_seq` 1, 2, ...) at most every `update_interval` per window, only
when something changed.

A final is computed once. It waits in the finalizer's `outbox`, which is part of its state,
until a checkpoint has persisted it together with what made it final (the finalizer's point,
the partials dropped behind it); only then does the runtime send it. A worker that dies before
that checkpoint sent nothing, and whoever resumes computes the window afresh; one that dies
after it leaves the outbox to whoever loads the state, who sends the same records again. So a
crash can repeat a final, byte for byte, never change it: which events counted can depend on
timing (when a partition went idle), and a recount after a crash would not reproduce it.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from stream_processors.metrics import WindowPartial, window_start_of
from stream_processors.partition import IDLE, WindowKey

__all__ = ["FINAL_SEQ", "IDLE", "MetricsFinalizer"]

FINAL_SEQ = 2**31 - 1


class MetricsFinalizer:
    """Decides which windows are final and what to publish; plain data in, records out."""

    def __init__(
        self,
        window_ms: int,
        update_interval_ms: float,
        sample_size: int,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        self.window_ms = window_ms
        self.update_interval_ms = update_interval_ms
        self.sample_size = sample_size
        state = state or {}
        self.finalized_until: int | None = state.get("finalized_until")
        self.seq: dict[str, int] = dict(state.get("seq", {}))
        self.digest: dict[str, str] = dict(state.get("digest", {}))
        # Finals computed, not yet known delivered: sent after the checkpoint that holds them.
        self.outbox: list[dict[str, Any]] = list(state.get("outbox", []))
        self._updated_at: dict[str, float] = {}
        self.dirty = False

    def to_state(self) -> dict[str, Any]:
        return {
            "finalized_until": self.finalized_until,
            "seq": self.seq,
            "digest": self.digest,
            "outbox": self.outbox,
        }

    def take_outbox(self) -> list[dict[str, Any]]:
        """The finals to send now that a checkpoint persisted them. The emptied outbox is
        persisted by the next checkpoint, which first waits until Kafka acknowledged them."""
        records, self.outbox = self.outbox, []
        if records:
            self.dirty = True
        return records

    def min_watermark(
        self, watermarks: Mapping[int, int | str | None], all_idle: int | None = None
    ) -> int | None:
        """The bound of the slowest partition (None while one is unknown).

        Idle partitions (read to their end, nothing pending) do not count; when all are idle,
        `all_idle` (the furthest watermark) is the bound.
        """
        values = [w for w in watermarks.values() if w != IDLE]
        if not values:
            return all_idle
        if any(w is None for w in values):
            return None
        return min(int(w) for w in values)  # type: ignore[arg-type]

    def final_until(
        self, watermarks: Mapping[int, int | str | None], all_idle: int | None = None
    ) -> int | None:
        """Windows ending at or before this may be published as final (None: none)."""
        low = self.min_watermark(watermarks, all_idle)
        return window_start_of(low, self.window_ms) if low is not None else None

    def step(
        self,
        watermarks: Mapping[int, int | str | None],
        partials: Mapping[WindowKey, Mapping[int, WindowPartial]],
        now: float,
        all_idle: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Records of this round: finals of windows every partition passed (and ending at or
        before `limit`, the point announced to the workers), also kept in the outbox until
        a checkpoint holds them, then running updates, to send now."""
        records: list[dict[str, Any]] = []
        final_until = self.final_until(watermarks, all_idle)
        if final_until is not None and limit is not None:
            final_until = min(final_until, limit)
        for key in sorted(partials):
            agent_id, agent_version, start = key
            end = start + self.window_ms
            if self.finalized_until is not None and end <= self.finalized_until:
                continue  # published already
            label = f"{agent_id}|{agent_version}|{start}"
            if final_until is not None and end <= final_until:
                merged = _merge(partials[key], self.sample_size)
                final = merged.to_record(
                    agent_id, agent_version, start, end, is_final=True, update_seq=FINAL_SEQ
                )
                records.append(final)
                self.outbox.append(final)
                self.seq.pop(label, None)
                self.digest.pop(label, None)
                self._updated_at.pop(label, None)
                self.dirty = True
                continue
            if now - self._updated_at.get(label, float("-inf")) < self.update_interval_ms:
                continue
            merged = _merge(partials[key], self.sample_size)
            self._updated_at[label] = now
            digest = _digest(merged)
            if self.digest.get(label) == digest:
                continue
            seq = self.seq.get(label, 0) + 1
            records.append(
                merged.to_record(
                    agent_id, agent_version, start, end, is_final=False, update_seq=seq
                )
            )
            self.seq[label], self.digest[label] = seq, digest
            self.dirty = True
        if final_until is not None and (
            self.finalized_until is None or final_until > self.finalized_until
        ):
            self.finalized_until = final_until
            self.dirty = True
        return records


def _merge(by_partition: Mapping[int, WindowPartial], sample_size: int) -> WindowPartial:
    merged = WindowPartial(sample_size)
    for partition in sorted(by_partition):
        merged = merged.merge(by_partition[partition])
    return merged


def _digest(partial: WindowPartial) -> str:
    return hashlib.blake2b(orjson.dumps(partial.to_state()), digest_size=12).hexdigest()
