"""Faust's aiokafka transport, handing whole fetched batches of records to the processor.

Faust's own fetcher turns every Kafka message into a Message and an Event, waits on two tasks
(`wait_first`), puts it on a queue and steps a stream before an agent sees it: a no-op agent
stays below 10,000 events/s on the development machine, less than the processor's target for the
whole join (docs/processor.md, Performance). This transport keeps everything else of Faust's
aiokafka transport (the consumer group and its assignor, rebalances, the seek to the committed
offsets after each one, tables, timers) and replaces only the loop that drains the consumer: each
fetch is handed, as one list of records, to the `on_records` coroutine (the processor's step).

The batch is handed over directly, not through a Faust channel: a channel's queue is also under
Faust's flow control, which a rebalance suspends, and in about one rebalance in five a worker's
loop then waited forever to put a batch on it (docs/reliability.md, Findings). Nothing is acked
through Faust: the processor commits its own checkpoints and reads again from them whatever it
did not apply (runtime.py).

It also shortens how long the broker may hold a fetch request (`fetch_max_wait_ms`): Faust asks
aiokafka for 1.5 s, and aiokafka keeps one fetch request in flight per broker, for the partitions
whose fetched records were all consumed. When those were only sparse ones (a feedback partition
without new events), every partition waited behind that request for up to 1.5 s: in live
traffic the worker fetched a few times a second, fell behind and stayed behind (event-to-metric
p99 ~3 s at 5,000 events/s; 1.25 s with 50 ms, docs/processor.md, Performance).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from mode import ServiceT

__all__ = ["ConsumedRecord", "RecordBatchTransport", "RecordHandler"]


class ConsumedRecord(Protocol):
    """What the processor reads of a fetched record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None  # epoch milliseconds
    key: bytes | None
    value: bytes | None


RecordHandler = Callable[[Sequence[ConsumedRecord]], Awaitable[None]]


class ShortFetchWaitConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, with the transport's `fetch_max_wait_ms` for aiokafka."""

    def _create_worker_consumer(self, transport: Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes a fixed 1,500 ms; aiokafka reads this when it starts its fetcher.
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms  # type: ignore[attr-defined]
        return consumer


class RecordBatchConsumer(Consumer):
    """Drains fetched records in whole batches into the transport's `on_records`."""

    #: What the drain loop is doing and has done (the worker logs it with its stats).
    drain: dict[str, Any] | None = None

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ShortFetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        transport: RecordBatchTransport = self.transport  # type: ignore[assignment]
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set  # type: ignore[attr-defined]
        drain: dict[str, Any] = {
            "state": "started",
            "fetches": 0,
            "batches": 0,
            "records": 0,
            "fetching_s": 0.0,  # waiting for the consumer thread's next records
            "processing_s": 0.0,  # in the handler
        }
        clock = time.perf_counter
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
                started = clock()
                records, _ = await self._wait_next_records(timeout=1.0)
                fetched = clock()
                drain["fetching_s"] += fetched - started
                drain["fetches"] += 1
                if not records:
                    await asyncio.sleep(0)
                    continue
                batch = [record for fetched in records.values() for record in fetched]
                drain["state"] = "processing"
                await transport.on_records(batch)
                drain["processing_s"] += clock() - fetched
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


class RecordBatchTransport(Transport):
    """The aiokafka transport with `RecordBatchConsumer`: set `on_records` before starting."""

    Consumer = RecordBatchConsumer

    def __init__(self, *args: Any, fetch_max_wait_ms: int = 50, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_records: RecordHandler = _not_wired
        self.fetch_max_wait_ms = fetch_max_wait_ms

    def hand_records_to(self, handler: RecordHandler) -> None:
        self.on_records = handler


async def _not_wired(records: Sequence[ConsumedRecord]) -> None:
    raise RuntimeError("RecordBatchTransport.hand_records_to(...) was never called")
