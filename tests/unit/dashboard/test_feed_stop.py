"""`MetricsFeed.stop` returns only once the feed thread has closed its consumer."""

import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from prometheus_client import CollectorRegistry

from dashboard import feed as feed_module
from dashboard.feed import MetricsFeed
from dashboard.live import LiveState
from dashboard.settings import DashboardSettings
from dashboard.state import DashboardState
from dashboard.telemetry import DashboardTelemetry


class SlowConsumer:
    """A consumer whose metadata request blocks until the test releases it."""

    entered = threading.Event()
    release = threading.Event()
    closed_on: ClassVar[list[str]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        pass

    def list_topics(self, timeout: float) -> SimpleNamespace:
        SlowConsumer.entered.set()
        SlowConsumer.release.wait()
        return SimpleNamespace(topics={})

    def close(self) -> None:
        SlowConsumer.closed_on.append(threading.current_thread().name)


class ReleaseOnWaitWarning(logging.Handler):
    """Lets the consumer go when `stop` says it is still waiting for it, not after a delay."""

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting for the dashboard feed" in record.getMessage():
            SlowConsumer.release.set()


@pytest.fixture
def slow_consumer(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[SlowConsumer]]:
    SlowConsumer.entered.clear()
    SlowConsumer.release.clear()
    SlowConsumer.closed_on.clear()
    monkeypatch.setattr(feed_module, "Consumer", SlowConsumer)
    handler = ReleaseOnWaitWarning(logging.WARNING)
    feed_module.log.addHandler(handler)
    try:
        yield SlowConsumer
    finally:
        feed_module.log.removeHandler(handler)
        SlowConsumer.release.set()  # never leave the thread blocked, whatever the outcome


def test_stop_waits_for_the_consumer_to_be_closed_on_the_feed_thread(
    slow_consumer: type[SlowConsumer],
) -> None:
    """A `stop` that gave up after its timeout left a live librdkafka consumer in a daemon
    thread: the demo then exited with it still polling, and could crash on the way out."""
    settings = DashboardSettings(bootstrap_servers="127.0.0.1:1", namespace="stop-test")
    live = LiveState(DashboardState(lookback_s=settings.lookback_s))
    feed = MetricsFeed(settings, live, DashboardTelemetry(CollectorRegistry()))
    feed.start()
    assert slow_consumer.entered.wait(30)
    feed.stop(timeout_s=0.01)
    assert slow_consumer.closed_on == ["dashboard-feed"]
    assert not feed.alive
