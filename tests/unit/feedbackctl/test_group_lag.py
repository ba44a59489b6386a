"""The demo's lag probe destroys every librdkafka client it made when closed."""

import pytest

from feedbackctl.demo.lag import GroupLag

NO_BROKER = "127.0.0.1:1"  # nothing listens there: creating clients needs no broker


def test_close_destroys_every_consumer() -> None:
    """A client left to the garbage collector is destroyed on whatever thread collects,
    librdkafka's own threads included, which crashes the process."""
    lag = GroupLag(NO_BROKER)
    assert lag.committed("some-group", []) == {}  # nothing asked: no client made
    lag._groups["some-group"] = type(lag.consumer)({"group.id": "some-group"})
    lag.close()
    for consumer in (lag.consumer, lag._groups["some-group"]):
        with pytest.raises(RuntimeError, match="closed"):
            consumer.list_topics(timeout=0.1)
    lag.close()  # a second close is harmless


def test_leaving_the_block_closes_it() -> None:
    with GroupLag(NO_BROKER) as lag:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        lag.consumer.list_topics(timeout=0.1)
