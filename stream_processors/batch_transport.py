"""Faust's aiokafka transport, handing the join agent whole fetched batches of records.

Faust's own fetcher turns every Kafka message into a Message and an Event, waits on two tasks
(`wait_first`), puts it on a queue and steps a stream before an agent sees it: a no-op agent
stays below 10,000 events/s on the development machine, less than the processor's target for the
whole join (docs/processor.md, Performance). This transport keeps everything else of Faust's
aiokafka transport (the consumer group and its assignor, rebalances, the seek to the committed
offsets after each one, tables, timers) and replaces only the loop that drains the consumer: each
fetch becomes one list of records sent on an in-memory channel, which the join agent iterates.

Nothing is acked through Faust: the runtime commits its own checkpoints (runtime.py). A batch
dropped on the way (flow stopped for a rebalance, a cleared channel) was neither applied nor
committed, so it is read again after the seek to the committed offsets.
"""

import asyncio
from typing import Any, Protocol

from faust.transport.drivers.aiokafka import Consumer, Transport
from faust.types import ChannelT
from mode import ServiceT

__all__ = ["ConsumedRecord", "RecordBatchTransport"]


class ConsumedRecord(Protocol):
    """What the runtime reads of a fetched record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None  # epoch milliseconds
    key: bytes | None
    value: bytes | None


class RecordBatchConsumer(Consumer):
    """Drains fetched records in whole batches onto the transport's batch channel."""

    #: What the drain loop is doing and has done (the worker logs it with its stats).
    drain: dict[str, Any] | None = None

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        batches = self.transport.batches  # type: ignore[attr-defined]
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set  # type: ignore[attr-defined]
        drain: dict[str, Any] = {"state": "started", "fetches": 0, "batches": 0, "records": 0}
        self.drain = drain
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                if self.should_stop:
                    # Crashed (or stopping): like Faust's own loop, fetch nothing until the
                    # consumer is stopped or restarted.
                    drain["state"] = "consumer crashed or stopping"
                    await asyncio.sleep(0.1)
                    continue
                drain["state"] = "fetching"
                records, active = await self._wait_next_records(timeout=1.0)
                drain["fetches"] += 1
                drain["active"] = len(active) if active is not None else None
                if not records:
                    await asyncio.sleep(0)
                    continue
                if not self.flow_active:
                    drain["state"] = "seeking"
                    # Fetched while a rebalance stopped the flow: not handed over, so the
                    # position goes back to the committed offsets (as Faust's fetcher does).
                    try:
                        await self.perform_seek()
                    except Exception as exc:  # the assignment is changing: seeks again after
                        self.log.warning("seek to the committed offsets failed: %r", exc)
                    continue
                batch = _batch(records, active, self._buffered_partitions)
                if batch:
                    drain["state"] = "handing over"
                    await self.wait_first(batches.send(value=batch), self.suspend_flow.wait())
                    drain["batches"] += 1
                    drain["records"] += len(batch)
            drain["state"] = "stopped"
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            drain["state"] = f"raised {exc!r}"
            self.log.exception("Drain messages raised: %r", exc)
            raise


def _batch(records: Any, active: set | None, buffered: set) -> list[ConsumedRecord]:
    """The fetched records of active partitions, partition after partition (offset order)."""
    batch: list[ConsumedRecord] = []
    for tp, fetched in records.items():
        if active is None or tp in active or tp in buffered:
            batch.extend(fetched)
    return batch


class RecordBatchTransport(Transport):
    """The aiokafka transport with `RecordBatchConsumer`; `batches` receives every fetch."""

    Consumer = RecordBatchConsumer

    def __init__(self, *args: Any, batches: ChannelT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches = batches
