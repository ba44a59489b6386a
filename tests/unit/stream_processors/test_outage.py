"""The degraded state of a worker whose Redis or Kafka is unavailable (no services needed)."""

import logging

import pytest
import redis
from confluent_kafka import KafkaError, KafkaException
from prometheus_client import REGISTRY

from stream_processors.exceptions import (
    DependencyOutageError,
    OutputDeliveryError,
    OutputsUnacknowledgedError,
    OwnershipLostError,
)
from stream_processors.outage import (
    Backoff,
    OutageTracker,
    broker_unreachable,
    unavailable_dependency,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _degraded(dependency: str) -> float | None:
    return REGISTRY.get_sample_value("feedback_processor_degraded", {"dependency": dependency})


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (redis.ConnectionError("Connection refused"), "redis"),
        (redis.TimeoutError("Timeout reading from socket"), "redis"),
        (redis.BusyLoadingError("Redis is loading the dataset in memory"), "redis"),
        (redis.exceptions.ClusterDownError("The cluster is down"), "redis"),
        (redis.exceptions.MasterDownError("MASTERDOWN Link with MASTER is down"), "redis"),
        (
            redis.exceptions.TryAgainError("TRYAGAIN Multiple keys request during rehashing"),
            "redis",
        ),
        (redis.exceptions.SlotNotCoveredError("Slot 866 is not covered by the cluster"), "redis"),
        (redis.exceptions.MovedError("14468 127.0.0.1:20166"), "redis"),
        (redis.exceptions.AskError("14468 127.0.0.1:20166"), "redis"),
        (redis.exceptions.ClusterCrossSlotError("CROSSSLOT Keys in request don't hash"), None),
        (OutputsUnacknowledgedError("3 outputs not acknowledged after 10.0 s"), "kafka"),
        (OutputDeliveryError("1 outputs failed, first: MSG_SIZE_TOO_LARGE"), None),
        (redis.ResponseError("WRONGTYPE"), None),
        (OwnershipLostError("partitions [3] are owned by another worker now"), None),
        (KeyError("a bug"), None),
    ],
)
def test_only_an_unreachable_dependency_counts_as_an_outage(
    error: BaseException, dependency: str | None
) -> None:
    assert unavailable_dependency(error) == dependency


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    backoff = Backoff(first_s=0.25, cap_s=5.0)
    lowest = [backoff.delay_s(n, draw=lambda: 0.0) for n in range(8)]
    highest = [backoff.delay_s(n, draw=lambda: 1.0) for n in range(8)]
    assert highest == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert lowest == [value / 2 for value in highest]
    assert backoff.delay_s(10_000) <= 5.0  # no overflow after a long outage


def test_entering_and_leaving_the_degraded_state_sets_the_gauge_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    tracker = OutageTracker(300.0, Backoff(first_s=1.0, cap_s=8.0), clock)
    assert _degraded("redis") == 0 and _degraded("kafka") == 0
    assert not tracker.recovered()  # nothing to leave
    with caplog.at_level(logging.INFO, logger="stream_processors.outage"):
        delays = []
        for _ in range(5):
            delays.append(tracker.failed("redis", redis.TimeoutError("Timeout")))
            clock.now += delays[-1]
        assert tracker.degraded and _degraded("redis") == 1 and _degraded("kafka") == 0
        assert all(0.5 <= d <= 8.0 for d in delays) and delays[-1] >= 4.0
        clock.now += 10
        assert tracker.recovered()
    assert not tracker.degraded and _degraded("redis") == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings  # one on entering, one on leaving
    assert warnings[0].startswith("redis unavailable (TimeoutError: Timeout): degraded")
    assert warnings[1].startswith("redis available again after")
    # The next outage starts its backoff from the beginning again.
    assert tracker.failed("kafka", OutputsUnacknowledgedError("x")) <= 1.0
    assert _degraded("kafka") == 1
    tracker.recovered()


def test_an_outage_longer_than_max_outage_s_ends_the_worker() -> None:
    clock = _Clock()
    tracker = OutageTracker(60.0, Backoff(first_s=1.0, cap_s=5.0), clock)
    tracker.failed("kafka", OutputsUnacknowledgedError("2 outputs not acknowledged"))
    clock.now += 30
    # Another dependency failing meanwhile does not restart the count.
    assert tracker.failed("redis", redis.ConnectionError("refused")) <= 5.0
    clock.now += 29.5
    assert tracker.failed("redis", redis.ConnectionError("refused")) <= 0.5  # not past the end
    clock.now += 0.5
    with pytest.raises(DependencyOutageError, match=r"unavailable for 60 s.*max_outage_s"):
        tracker.failed("redis", redis.ConnectionError("refused"))
    tracker.recovered()


@pytest.mark.parametrize(
    ("code", "unreachable"),
    [
        (KafkaError._TIMED_OUT, True),
        (KafkaError._TRANSPORT, True),
        (KafkaError._ALL_BROKERS_DOWN, True),
        (KafkaError.FENCED_LEADER_EPOCH, False),  # an answer: the admin client is replaced
        (KafkaError.NOT_LEADER_FOR_PARTITION, False),  # an answer, during an election
    ],
)
def test_only_a_request_no_broker_answered_means_kafka_is_unreachable(
    code: int, unreachable: bool
) -> None:
    assert broker_unreachable(KafkaException(KafkaError(code))) is unreachable
    assert not broker_unreachable(KeyError("a bug"))


def test_a_failed_probe_reports_kafka_degraded_without_a_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    tracker = OutageTracker(60.0, Backoff(first_s=1.0, cap_s=5.0), clock)
    timed_out = KafkaException(KafkaError(KafkaError._TIMED_OUT))
    with caplog.at_level(logging.INFO, logger="stream_processors.outage"):
        tracker.reachable("kafka")  # nothing to leave
        for _ in range(30):  # ten minutes of failed probes: no deadline, one warning
            tracker.unreachable("kafka", timed_out)
            clock.now += 20
        assert tracker.degraded and _degraded("kafka") == 1 and _degraded("redis") == 0
        tracker.reachable("kafka")
    assert not tracker.degraded and _degraded("kafka") == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("kafka unavailable (KafkaException: ")
    assert warnings[1].startswith("kafka available again after 600.0 s")


def test_a_dependency_stays_degraded_while_either_source_says_so() -> None:
    clock = _Clock()
    tracker = OutageTracker(300.0, Backoff(first_s=1.0, cap_s=5.0), clock)
    timed_out = KafkaException(KafkaError(KafkaError._TIMED_OUT))
    tracker.unreachable("kafka", timed_out)
    tracker.failed("redis", redis.ConnectionError("refused"))
    assert tracker.recovered()  # Redis answered the checkpoint; Kafka's probe still fails
    assert _degraded("redis") == 0 and _degraded("kafka") == 1 and tracker.degraded
    tracker.failed("kafka", OutputsUnacknowledgedError("2 outputs not acknowledged"))
    tracker.reachable("kafka")  # the probe answers, the checkpoint has not yet
    assert _degraded("kafka") == 1
    assert tracker.recovered()  # outputs acknowledged: Kafka answered
    assert _degraded("kafka") == 0 and not tracker.degraded
