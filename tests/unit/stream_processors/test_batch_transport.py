"""The worker's Kafka consumer settings that Faust does not expose (no broker needed)."""

from stream_processors.app import build_app
from stream_processors.settings import ProcessorSettings


async def test_the_consumer_lets_the_broker_hold_a_fetch_for_the_configured_time() -> None:
    """Faust asks aiokafka for 1,500 ms; the worker's setting replaces it (see
    stream_processors/batch_transport.py for why it matters)."""
    app, _ = build_app(ProcessorSettings(namespace="fetchwait", fetch_max_wait_ms=70))
    consumer = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
    try:
        assert consumer._fetch_max_wait_ms == 70
        assert ProcessorSettings().fetch_max_wait_ms < 1500
    finally:
        await consumer.stop()
