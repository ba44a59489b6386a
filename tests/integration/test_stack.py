"""The local stack answers: a message goes through the real broker; Redis stores and returns."""

import uuid

import redis
from confluent_kafka import Consumer, Producer

from local_stack import LocalStack
from local_stack.topics import ensure_topics
from schemas.topics import INTERACTIONS, TOPICS


def test_message_round_trips_through_the_broker(bootstrap_servers, unique_topics):
    topic = unique_topics(INTERACTIONS, partitions=1)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    payload = uuid.uuid4().bytes * 4
    producer.produce(topic.name, key=b"session-1", value=payload)
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic.name])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert message.key() == b"session-1"
        assert message.value() == payload
    finally:
        consumer.close()


def test_redis_set_get(redis_url):
    client = redis.Redis.from_url(redis_url)
    key = f"test:{uuid.uuid4().hex}"
    client.set(key, b"value", ex=60)
    assert client.get(key) == b"value"
    assert client.config_get("appendonly")["appendonly"] == "yes"
    client.delete(key)


def test_registry_topics_exist_with_their_partitions(local_stack: LocalStack, bootstrap_servers):
    assert ensure_topics(bootstrap_servers) == []  # idempotent: everything already exists
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=10)
    for spec in TOPICS:
        assert len(metadata.topics[spec.name].partitions) == spec.partitions


def test_second_up_is_a_no_op(local_stack: LocalStack):
    messages: list[str] = []
    assert local_stack.up(say=messages.append) is False
    assert any("already running" in message for message in messages)
    assert all(service.healthy and service.pid for service in local_stack.status())
