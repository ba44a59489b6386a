"""The demo's lag probe destroys both of its librdkafka clients when closed."""

import pytest

from feedbackctl.demo.lag import GroupLag

NO_BROKER = "127.0.0.1:1"  # nothing listens there: creating clients needs no broker


def test_close_destroys_the_admin_client_and_the_consumer() -> None:
    """An admin client left to the garbage collector is destroyed on whatever thread collects,
    librdkafka's own background thread included, which crashes the process."""
    lag = GroupLag(NO_BROKER)
    lag.close()
    with pytest.raises(RuntimeError, match="closed"):
        lag.admin.list_topics(timeout=0.1)
    with pytest.raises(RuntimeError, match="closed"):
        lag.consumer.list_topics(timeout=0.1)
    lag.close()  # a second close is harmless


def test_leaving_the_block_closes_it() -> None:
    with GroupLag(NO_BROKER) as lag:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        lag.admin.list_topics(timeout=0.1)
