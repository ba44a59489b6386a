"""`ensure_topics` destroys every admin client it makes, on the calling thread."""

import threading
from concurrent.futures import Future
from types import SimpleNamespace, TracebackType
from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from local_stack import topics
from schemas.topics import METRICS


def _done(result: Any = None, error: Exception | None = None) -> "Future[Any]":
    future: Future[Any] = Future()
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
    return future


class FakeAdmin:
    """Answers like a broker whose new partition has no log yet on the first ListOffsets."""

    made: ClassVar[list["FakeAdmin"]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.destroyed_on: str | None = None
        FakeAdmin.made.append(self)

    def __enter__(self) -> "FakeAdmin":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroyed_on = threading.current_thread().name

    def list_topics(self, timeout: float) -> SimpleNamespace:
        return SimpleNamespace(topics={}, brokers={1: None})

    def create_topics(self, new: list[Any], request_timeout: float) -> dict[str, "Future[Any]"]:
        return {topic.topic: _done() for topic in new}

    def list_offsets(
        self, request: dict[TopicPartition, Any], request_timeout: float
    ) -> dict[TopicPartition, "Future[Any]"]:
        first_round = len(FakeAdmin.made) == 2  # after the creating client
        error = KafkaException(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION))
        return {tp: _done(error=error) if first_round else _done() for tp in request}


def test_every_admin_client_is_destroyed_on_the_calling_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failed ListOffsets kept its traceback, the frame and the client in a reference cycle:
    the client was destroyed later by the garbage collector, on whichever thread it ran, in the
    demo the dashboard feed's thread or one of librdkafka's own."""
    FakeAdmin.made.clear()
    monkeypatch.setattr(topics, "AdminClient", FakeAdmin)
    spec = METRICS.in_namespace("clients-test")
    assert topics.ensure_topics("127.0.0.1:1", [spec]) == [spec.name]
    assert len(FakeAdmin.made) == 3  # create, a failed round, a good round
    here = threading.current_thread().name
    assert [admin.destroyed_on for admin in FakeAdmin.made] == [here] * 3
