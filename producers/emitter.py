"""Sends generated traffic somewhere: Kafka (good records through the SDK) or a JSON-lines file.

Good records go through `FeedbackClient.send`, so they are checked, keyed and counted exactly as
an agent's would be. Bad records (garbage, unknown fingerprint, missing key...) are raw bytes the
SDK would refuse; they go through a plain idempotent confluent-kafka producer so the pipeline's
dead-letter path gets them as a broken client would send them.

File format (`--output FILE`): one JSON object per line, in emission order:
`{"topic": name, "key": base64 or null, "value": base64 (the exact Kafka value bytes),
"event_time": epoch ms, "bad_reason": expected dead-letter reason or null}`.
"""

import base64
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from confluent_kafka import KafkaError, Message, Producer

from producers.checks import checker_for
from producers.client import FeedbackClient, ProducerTopics
from schemas.serializer import content_type_headers, serializer_for
from schemas.topics import TopicSpec

__all__ = ["EmitReport", "GeneratedEventLike", "Pacer", "emit_to_file", "emit_to_kafka"]

Progress = Callable[[int], None]
_RAW_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class GeneratedEventLike(Protocol):
    """What the emitter needs from `producers.traffic.GeneratedEvent`."""

    topic: TopicSpec
    key: bytes | None
    event_time: int
    record: dict[str, Any] | None
    raw: bytes | None
    bad_reason: str | None

    def value(self) -> bytes: ...


@dataclass
class EmitReport:
    """What was emitted, per topic; bad records per expected dead-letter reason."""

    good: Counter[str] = field(default_factory=Counter)
    bad: Counter[str] = field(default_factory=Counter)
    raw_failed: int = 0
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.good.values()) + sum(self.bad.values())


class Pacer:
    """Holds emission to `rate` events per second of wall clock (0 = as fast as possible)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.start = time.monotonic()

    def wait(self, emitted: int) -> None:
        if self.rate <= 0:
            return
        ahead = self.start + emitted / self.rate - time.monotonic()
        if ahead > 0.001:
            time.sleep(ahead)


def emit_to_kafka(
    events: Iterable[GeneratedEventLike],
    client: FeedbackClient,
    raw_producer_config: dict[str, Any],
    rate: float = 0.0,
    progress: Progress | None = None,
) -> EmitReport:
    """Produce every event; good ones through the SDK, bad ones raw. Flushes both at the end."""
    report = EmitReport()
    routes = _routes(client.topics)

    def on_raw_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            report.raw_failed += 1

    raw = Producer(
        {
            **raw_producer_config,
            "enable.idempotence": True,
            "acks": "all",
            # Oversized bad records must reach the broker (the local stack allows 16 MiB).
            "message.max.bytes": _RAW_MAX_MESSAGE_BYTES,
            "on_delivery": on_raw_delivery,
        }
    )
    pacer = Pacer(rate)
    started = time.monotonic()
    for emitted, event in enumerate(events, 1):
        topic = routes[event.topic.value_record]
        if event.record is not None:
            client.send(topic, event.record)
            report.good[topic.name] += 1
        else:
            _produce_raw(raw, topic.name, event.key, event.value())
            report.bad[event.bad_reason or "unknown"] += 1
        pacer.wait(emitted)
        if progress is not None and emitted % 500 == 0:
            progress(emitted)
    client.flush()
    raw.flush(60)
    report.raw_failed += len(raw)
    report.elapsed_s = time.monotonic() - started
    if progress is not None:
        progress(report.total)
    return report


def emit_to_file(
    events: Iterable[GeneratedEventLike],
    path: Path,
    namespace: str | None = None,
    rate: float = 0.0,
    progress: Progress | None = None,
    max_text_bytes: int = 65_536,
) -> EmitReport:
    """Write every event as one JSON line (the exact bytes Kafka would get, base64)."""
    report = EmitReport()
    routes = _routes(ProducerTopics.in_namespace(namespace))
    pacer = Pacer(rate)
    started = time.monotonic()
    with open(path, "w", encoding="utf-8") as handle:
        for emitted, event in enumerate(events, 1):
            topic = routes[event.topic.value_record]
            if event.record is not None:
                checker_for(topic.value_record)(event.record, max_text_bytes)
                value = serializer_for(topic).encode(event.record)
                report.good[topic.name] += 1
            else:
                value = event.value()
                report.bad[event.bad_reason or "unknown"] += 1
            _write_line(handle, topic.name, event, value)
            pacer.wait(emitted)
            if progress is not None and emitted % 500 == 0:
                progress(emitted)
    report.elapsed_s = time.monotonic() - started
    if progress is not None:
        progress(report.total)
    return report


def _routes(topics: ProducerTopics) -> dict[str, TopicSpec]:
    """Registry record name -> the (possibly namespaced) topic the client writes it to."""
    return {t.value_record: t for t in (topics.interactions, topics.feedback, topics.signals)}


def _produce_raw(producer: Producer, topic: str, key: bytes | None, value: bytes) -> None:
    deadline = time.monotonic() + 30.0
    while True:
        try:
            producer.produce(topic, value, key, headers=content_type_headers(value))
            break
        except BufferError:
            if time.monotonic() > deadline:
                raise
            producer.poll(0.01)
    producer.poll(0)


def _write_line(handle: IO[str], topic: str, event: GeneratedEventLike, value: bytes) -> None:
    line = {
        "topic": topic,
        "key": None if event.key is None else base64.b64encode(event.key).decode("ascii"),
        "value": base64.b64encode(value).decode("ascii"),
        "event_time": event.event_time,
        "bad_reason": event.bad_reason,
    }
    handle.write(json.dumps(line, separators=(",", ":")) + "\n")
