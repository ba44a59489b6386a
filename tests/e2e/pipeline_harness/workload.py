"""Known workloads: generator traffic produced through the SDK, with what was sent, counted.

Event-time settings are shrunk (abandonment after 60 s, grace 120 s, 10 s metric windows) so a
whole run settles within seconds of wall clock after the last event; `PROCESSOR_TEST_ENV` and
`Pipeline.match_traffic` give the processor the rules the generator follows (the processor's
own integration tests use the same values, with 35 s abandonment).

Why 60 s: the generator sends a session's terminal signal up to 30 s (event time) after its last
turn, and an idle input lets the processor's watermark advance with the wall clock; with 35 s a
producer stall of ~5 s under CPU load closed live sessions as abandoned (docs/reliability.md).
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from producers.bad_records import BadRecord
from producers.client import FeedbackClient
from producers.emitter import EmitReport, emit_to_kafka
from producers.metrics import ProducerStats
from producers.settings import ProducerSettings
from producers.traffic import GeneratedEvent, Traffic, TrafficConfig, generate_traffic
from producers.truth import GroundTruth

__all__ = [
    "PROCESSOR_TEST_ENV",
    "BackgroundProducer",
    "Produced",
    "produce",
    "scenario_traffic",
]

PROCESSOR_TEST_ENV = {
    "FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "60",
    "FEEDBACK_PROCESSOR_FEEDBACK_GRACE_S": "120",
    "FEEDBACK_PROCESSOR_ALLOWED_LATENESS_MS": "500",
    "FEEDBACK_PROCESSOR_IDLE_TIMEOUT_S": "1",
    "FEEDBACK_PROCESSOR_METRICS_WINDOW_S": "10",
    "FEEDBACK_PROCESSOR_METRICS_WINDOW_GRACE_S": "5",
    "FEEDBACK_PROCESSOR_SESSION_TIMEOUT_S": "6",
}
WINDOW_MS = 10_000


def scenario_traffic(sessions: int, seed: int, **overrides: Any) -> TrafficConfig:
    """Generator settings matching `PROCESSOR_TEST_ENV`; no bad records, duplicates or late
    feedback unless a scenario asks for them."""
    values: dict[str, Any] = {
        "sessions": sessions,
        "seed": seed,
        "abandon_after_s": 60,
        "max_turn_gap_s": 4,
        "feedback_grace_s": 120,
        "max_feedback_delay_s": 60,
        "feedback_share": 0.6,
    }
    values.update(overrides)
    return TrafficConfig(**values)


@dataclass
class Produced:
    """What went into the input topics, and what the generator says must come out."""

    config: TrafficConfig
    traffic: Traffic
    sends_by_event_id: Counter[str] = field(default_factory=Counter)
    bad_messages: int = 0
    last_event_time: int = 0
    extra_bad: list[tuple[str, str]] = field(default_factory=list)  # (topic, reason) sent by hand
    report: EmitReport | None = None
    stats: list[ProducerStats] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def truth(self) -> GroundTruth:
        return self.traffic.truth

    @property
    def messages(self) -> int:
        """Every message that must be in the input topics (good, repeated and bad)."""
        return sum(self.sends_by_event_id.values()) + self.bad_messages

    @property
    def settle_time(self) -> int:
        """Event time by which every session has closed and every event was seen."""
        last_close = max(s.closed_at_ms for s in self.truth.sessions.values())
        return max(self.last_event_time, last_close)

    def expected_dead_letters(self) -> Counter[str]:
        """Dead letters per reason: every injected bad record, every too-late feedback."""
        reasons = Counter(reason for _, reason in self.truth.bad_records)
        reasons.update(reason for _, reason in self.extra_bad)
        if self.truth.too_late_feedback:
            reasons["too_late"] += len(self.truth.too_late_feedback)
        return reasons

    def count(self, events: Iterator[GeneratedEvent]) -> Iterator[GeneratedEvent]:
        """Pass events through, counting each send by event_id (bad records by number)."""
        for event in events:
            if self.cancelled.is_set():
                return
            if event.record is None:
                self.bad_messages += 1
            else:
                self.sends_by_event_id[event.record["event_id"]] += 1
                self.last_event_time = max(self.last_event_time, event.event_time)
            yield event


def producer_settings(bootstrap: str, namespace: str, spool_dir: Path) -> ProducerSettings:
    """The SDK as an agent would run it, with its own spool; a long close so an outage of the
    broker is ridden out by librdkafka's retries (delivery_timeout_ms: 120 s)."""
    return ProducerSettings(
        bootstrap_servers=bootstrap,
        topic_namespace=namespace,
        spool_dir=spool_dir,
        close_timeout_s=120.0,
    )


def produce(
    config: TrafficConfig,
    bootstrap: str,
    namespace: str,
    spool_dir: Path,
    rate: float = 0.0,
    repeat: int = 1,
    extra_bad: Sequence[BadRecord] = (),
    cancelled: threading.Event | None = None,
) -> Produced:
    """Produce the traffic of `config` (`repeat` times: a duplicate storm), then `extra_bad`
    records (raw bytes, e.g. a 10 MiB one), and return the counts.

    Events the SDK spooled (broker unreachable past its retries) are replayed by a second
    client, as the SDK documents; both clients' stats are kept in `Produced.stats`.
    """
    traffic = generate_traffic(config)
    produced = Produced(config, traffic, cancelled=cancelled or threading.Event())
    events = list(traffic.events())
    settings = producer_settings(bootstrap, namespace, spool_dir)
    client = FeedbackClient(settings, registry=CollectorRegistry())
    try:
        raw_config = {"bootstrap.servers": bootstrap, "message.timeout.ms": 120_000}
        for _ in range(repeat):
            produced.report = emit_to_kafka(produced.count(iter(events)), client, raw_config, rate)
            assert produced.report.raw_failed == 0, "bad records were not delivered"
        if extra_bad:
            _produce_raw(extra_bad, bootstrap, namespace)
            produced.bad_messages += len(extra_bad)
            produced.extra_bad += [(topic.name, reason) for topic, _, _, reason in extra_bad]
    finally:
        produced.stats.append(client.close())
    if produced.stats[-1].spooled:
        # Replay explicitly: the replay a client starts on its own runs in the background and
        # is abandoned (the file kept for later) if the client closes before it is queued.
        replaying = settings.model_copy(update={"replay_spool_on_start": False})
        with FeedbackClient(replaying, registry=CollectorRegistry()) as replayer:
            replayer.replay_spool(wait=True)
        produced.stats.append(replayer.stats())
    return produced


def _produce_raw(records: Sequence[BadRecord], bootstrap: str, namespace: str) -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "message.max.bytes": 16 * 1024 * 1024,
        }
    )
    for topic, key, value, _ in records:
        producer.produce(topic.in_namespace(namespace).name, value, key)
    assert producer.flush(60) == 0, "extra bad records were not delivered"


class BackgroundProducer:
    """`produce` in a thread, so a scenario can break things while events flow."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._result: Produced | None = None
        self._error: BaseException | None = None
        self._cancelled = threading.Event()
        self.started = time.monotonic()
        self._thread = threading.Thread(
            target=self._run,
            args=args,
            kwargs={**kwargs, "cancelled": self._cancelled},
            name="producer",
            daemon=True,
        )
        self._thread.start()

    def _run(self, *args: Any, **kwargs: Any) -> None:
        try:
            self._result = produce(*args, **kwargs)
        except BaseException as exc:
            self._error = exc

    def cancel(self, timeout_s: float) -> None:
        """Stop producing (a scenario failed) and wait a while for the client to close."""
        self._cancelled.set()
        self._thread.join(timeout_s)

    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self, timeout_s: float) -> Produced:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the producer did not finish within {timeout_s:.0f}s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
