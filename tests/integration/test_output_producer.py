"""The processor's output producer reports only failures, and `wait` still sees every one."""

import asyncio
import os
import uuid

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from stream_processors.exceptions import OutputDeliveryError
from stream_processors.outputs import OutputProducer


def _topic(bootstrap_servers: str, **config: str) -> str:
    name = f"outputs-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for future in admin.create_topics([NewTopic(name, 1, 1, config=config)]).values():
        future.result(30)
    return name


def _values_in(bootstrap_servers: str, topic: str, expected: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    try:
        for _ in range(60):
            for message in consumer.consume(1000, timeout=1.0):
                if message.error() is None:
                    values.append(message.value())
            if len(values) >= expected:
                break
    finally:
        consumer.close()
    return values


def test_wait_returns_once_every_output_is_in_kafka(bootstrap_servers: str) -> None:
    topic = _topic(bootstrap_servers)
    producer = OutputProducer(bootstrap_servers)
    sent = [f"output {i}".encode() for i in range(500)]
    for value in sent:
        producer.send(topic, b"key", value)
    asyncio.run(producer.wait())
    assert producer.sent == 500
    assert _values_in(bootstrap_servers, topic, 500) == sent


def test_a_rejected_output_makes_wait_raise(bootstrap_servers: str) -> None:
    """The broker refuses a record over the topic's max.message.bytes: a delivery failure,
    reported although successful deliveries are not."""
    topic = _topic(bootstrap_servers, **{"max.message.bytes": "2000"})
    producer = OutputProducer(bootstrap_servers)
    producer.send(topic, b"key", os.urandom(50_000))  # incompressible: lz4 cannot shrink it
    with pytest.raises(OutputDeliveryError, match=r"1 outputs failed.*MSG_SIZE_TOO_LARGE"):
        asyncio.run(producer.wait())
    producer.send(topic, b"key", b"small again")
    asyncio.run(producer.wait())  # the failure was reported once
    assert _values_in(bootstrap_servers, topic, 1) == [b"small again"]
