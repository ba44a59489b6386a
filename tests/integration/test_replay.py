"""Replay against the real broker and a real Delta table: ranges, order, refusal, offset resets."""

import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from deltalake import write_deltalake

from local_stack.topics import ensure_topics
from producers.traffic import TrafficConfig, generate_traffic
from replay.backfill import backfill_from_lake
from replay.exceptions import ReplayError
from replay.group_reset import reset_group_to_time
from replay.publisher import prepare_namespace_topics
from replay.settings import ReplaySettings
from replay.topic_copy import copy_input_range
from schemas.lake import RAW_EVENTS
from schemas.topics import INPUT_TOPICS


@pytest.fixture()
def namespaces(bootstrap_servers):
    """Unique namespaces; their input topics are deleted after the test."""
    used: list[str] = []

    def make() -> str:
        used.append(f"t{uuid.uuid4().hex[:10]}")
        return used[-1]

    yield make
    names = [spec.in_namespace(ns).name for ns in used for spec in INPUT_TOPICS]
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [name for name in names if name in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()


def _fill(bootstrap_servers: str, namespace: str, sessions: int = 60) -> list:
    """Produce generator traffic (some of it bad) into a namespace, stamped with the wall clock.

    Records stamped with the generator's event time (early 2026) would fall to retention at once.
    """
    prepare_namespace_topics(bootstrap_servers, namespace)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "linger.ms": 5,
            "message.max.bytes": 16 * 1024 * 1024,
            # Retries must not reorder a partition: time ranges assume ordered timestamps.
            "enable.idempotence": True,
        }
    )
    config = TrafficConfig(
        sessions=sessions, seed=11, bad_record_share=0.03, oversized_bytes=50_000
    )
    events = list(generate_traffic(config).events())
    for event in events:
        producer.produce(
            event.topic.in_namespace(namespace).name, value=event.value(), key=event.key
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    return events


def _read_all(bootstrap_servers: str, namespace: str) -> dict[tuple[str, int], list[tuple]]:
    """Every record of the namespace's input topics, per (registry topic, partition), in order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": uuid.uuid4().hex,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    out: dict[tuple[str, int], list[tuple]] = defaultdict(list)
    assignments = []
    highs = {}
    for spec in INPUT_TOPICS:
        name = spec.in_namespace(namespace).name
        for p in range(spec.partitions):
            highs[(name, p)] = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[
                1
            ]
            assignments.append(TopicPartition(name, p, 0))
    consumer.assign(assignments)
    pending = {k for k, high in highs.items() if high > 0}
    for _ in range(200):
        if not pending:
            break
        for m in consumer.consume(1000, timeout=0.5):
            base = m.topic().split(f".{namespace}")[0]
            out[(base, m.partition())].append((m.key(), m.value(), m.timestamp()[1]))
            if m.offset() + 1 >= highs[(m.topic(), m.partition())]:
                pending.discard((m.topic(), m.partition()))
    consumer.close()
    assert not pending, f"could not read {pending}"
    return out


def test_copy_keeps_partition_order_and_honours_the_time_range(bootstrap_servers, namespaces):
    source, target, partial = namespaces(), namespaces(), namespaces()
    events = _fill(bootstrap_servers, source)
    settings = ReplaySettings(bootstrap_servers=bootstrap_servers, timeout_s=60)

    result = copy_input_range(settings, target, source_namespace=source)
    assert result.records == len(events)
    assert _read_all(bootstrap_servers, target) == _read_all(bootstrap_servers, source)

    times = sorted(
        r[2] for records in _read_all(bootstrap_servers, source).values() for r in records
    )
    start, end = times[len(times) // 4], times[3 * len(times) // 4]
    result = copy_input_range(settings, partial, start, end, source_namespace=source)
    expected = {
        key: [r for r in records if start <= r[2] < end]
        for key, records in _read_all(bootstrap_servers, source).items()
    }
    expected = {key: records for key, records in expected.items() if records}
    assert _read_all(bootstrap_servers, partial) == expected
    assert result.records == sum(len(r) for r in expected.values())


def test_live_topics_stamp_arrival_and_a_replay_keeps_those_stamps(bootstrap_servers, namespaces):
    """A producer whose clock runs 10 minutes fast: the live input topics carry the broker's
    append time instead, and a replay target keeps it, even one a worker created first."""
    source, target = namespaces(), namespaces()
    for namespace in (source, target):  # as the stack, the demo or a worker creates them
        ensure_topics(bootstrap_servers, [spec.in_namespace(namespace) for spec in INPUT_TOPICS])
    before = int(time.time() * 1000)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    for spec in INPUT_TOPICS:
        for partition in range(spec.partitions):
            name = spec.in_namespace(source).name
            producer.produce(name, b"v", b"k", partition=partition, timestamp=before + 600_000)
    assert producer.flush(30) == 0
    after = int(time.time() * 1000)
    live = _read_all(bootstrap_servers, source)
    stamps = [record[2] for records in live.values() for record in records]
    assert len(stamps) == sum(spec.partitions for spec in INPUT_TOPICS)
    assert all(before <= stamp <= after for stamp in stamps), (before, after, stamps)

    settings = ReplaySettings(bootstrap_servers=bootstrap_servers, timeout_s=60)
    result = copy_input_range(settings, target, source_namespace=source)
    assert result.records == len(stamps)
    assert _read_all(bootstrap_servers, target) == live


def test_copy_refuses_a_target_that_holds_data(bootstrap_servers, namespaces):
    source = namespaces()
    _fill(bootstrap_servers, source, sessions=5)
    settings = ReplaySettings(bootstrap_servers=bootstrap_servers, timeout_s=30)
    with pytest.raises(ReplayError, match="already holds records"):
        copy_input_range(settings, source, source_namespace=source)


def test_backfill_from_lake_restores_the_topics(bootstrap_servers, namespaces, tmp_path):
    source, target = namespaces(), namespaces()
    _fill(bootstrap_servers, source, sessions=40)
    original = _read_all(bootstrap_servers, source)
    rows = []
    for (topic, partition), records in original.items():
        for offset, (key, value, timestamp) in enumerate(records):
            rows.append(
                {
                    "value": value,
                    "key": key,
                    "kafka_topic": f"{topic}.{source}",
                    "kafka_partition": partition,
                    "kafka_offset": offset,
                    "kafka_timestamp": datetime.fromtimestamp(timestamp / 1000, tz=UTC),
                    "event_date": datetime.fromtimestamp(timestamp / 1000, tz=UTC).date(),
                }
            )
    schema = RAW_EVENTS.arrow_schema()
    # Shuffle the physical order: the backfill must sort by Kafka coordinates itself.
    rows.reverse()
    table = pa.Table.from_pylist(rows, schema=schema)
    write_deltalake(str(tmp_path / "raw_events"), table, partition_by=["event_date"])

    settings = ReplaySettings(bootstrap_servers=bootstrap_servers, lake_uri=str(tmp_path))
    result = backfill_from_lake(settings, target, source_namespace=source, version=0)
    assert result.records == len(rows) and result.table_version == 0
    assert _read_all(bootstrap_servers, target) == original


def test_copies_of_records_older_than_the_retention_outlive_the_retention_check(
    bootstrap_servers, namespaces, tmp_path
):
    """A backfill of records ten days old (the lake keeps what Kafka's retention of 7 days
    dropped) and a replay of that backfill keep the original stamps: the broker's retention
    check, which counts from them, must not delete the copies before a worker reads them."""
    backfilled, replayed = namespaces(), namespaces()
    stamp = int(time.time() * 1000) - 10 * 24 * 3600 * 1000
    rows = [
        {
            "value": f"{spec.name}/{partition}".encode(),
            "key": b"session",
            "kafka_topic": spec.name,
            "kafka_partition": partition,
            "kafka_offset": 0,
            "kafka_timestamp": datetime.fromtimestamp((stamp + partition) / 1000, tz=UTC),
            "event_date": datetime.fromtimestamp(stamp / 1000, tz=UTC).date(),
        }
        for spec in INPUT_TOPICS
        for partition in range(spec.partitions)
    ]
    table = pa.Table.from_pylist(rows, schema=RAW_EVENTS.arrow_schema())
    write_deltalake(str(tmp_path / "raw_events"), table, partition_by=["event_date"])
    settings = ReplaySettings(bootstrap_servers=bootstrap_servers, lake_uri=str(tmp_path))
    assert backfill_from_lake(settings, backfilled, version=0).records == len(rows)
    assert copy_input_range(settings, replayed, source_namespace=backfilled).records == len(rows)

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    check_ms = _broker_config(admin, ConfigResource(ResourceType.BROKER, "1"))[
        "log.retention.check.interval.ms"
    ]
    assert int(check_ms) <= 10_000, "a stack started before retention was checked every 5 s"
    time.sleep(2.5 * int(check_ms) / 1000)  # two retention checks at least
    for namespace in (backfilled, replayed):
        kept = _read_all(bootstrap_servers, namespace)
        assert sum(len(records) for records in kept.values()) == len(rows)
        assert all(records[0][2] - stamp < 10 for records in kept.values())  # stamps kept
        for spec in INPUT_TOPICS:
            resource = ConfigResource(ResourceType.TOPIC, spec.in_namespace(namespace).name)
            retention_ms = int(_broker_config(admin, resource)["retention.ms"])
            expected = spec.retention_ms + int(time.time() * 1000) - stamp
            assert expected - 120_000 <= retention_ms <= expected


def _broker_config(admin: AdminClient, resource: ConfigResource) -> dict[str, str]:
    described = admin.describe_configs([resource])[resource].result()
    return {name: entry.value for name, entry in described.items()}


def test_a_copy_stopped_half_way_still_gives_its_targets_a_retention(bootstrap_servers, namespaces):
    """Targets keep records forever while a copy runs; one stopped half-way (Ctrl-C here, or
    a timeout) left them so. Now the records it copied get the topic's retention anyway."""
    source, target = namespaces(), namespaces()
    _fill(bootstrap_servers, source)
    settings = ReplaySettings(bootstrap_servers=bootstrap_servers, timeout_s=60, batch_size=20)
    started = int(time.time() * 1000)

    def interrupt(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_input_range(settings, target, source_namespace=source, progress=interrupt)
    # Counted from the oldest record it copied: never before the source's oldest.
    oldest = min(r[2] for rs in _read_all(bootstrap_servers, source).values() for r in rs)
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for spec in INPUT_TOPICS:
        resource = ConfigResource(ResourceType.TOPIC, spec.in_namespace(target).name)
        retention_ms = int(_broker_config(admin, resource)["retention.ms"])
        assert spec.retention_ms <= retention_ms <= spec.retention_ms + started - oldest + 60_000


def test_group_reset_refuses_active_members_and_works_without(bootstrap_servers, namespaces):
    source = namespaces()
    events = _fill(bootstrap_servers, source, sessions=20)
    topic = INPUT_TOPICS[0].in_namespace(source).name
    group = f"reset-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen = 0
    for _ in range(60):
        batch = consumer.consume(500, timeout=0.5)
        seen += len(batch)
        if seen >= sum(1 for e in events if e.topic is INPUT_TOPICS[0]):
            break
    consumer.commit(asynchronous=False)
    stamps = sorted(r[2] for r in _read_all(bootstrap_servers, source)[INPUT_TOPICS[0].name, 0])
    middle = stamps[len(stamps) // 2]
    with pytest.raises(ReplayError, match="active member"):
        reset_group_to_time(bootstrap_servers, group, middle, [topic])
    consumer.close()

    resets = reset_group_to_time(bootstrap_servers, group, middle, [topic])
    probe = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"{group}-probe"})
    for reset in resets:
        assert reset.old_offset is not None and reset.new_offset <= reset.old_offset
        found = probe.offsets_for_times([TopicPartition(topic, reset.partition, middle)], 10)[0]
        high = probe.get_watermark_offsets(TopicPartition(topic, reset.partition), timeout=10)[1]
        assert reset.new_offset == (found.offset if found.offset >= 0 else high)
    probe.close()
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    from confluent_kafka import ConsumerGroupTopicPartitions

    committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    offsets = {tp.partition: tp.offset for tp in committed.result().topic_partitions}
    assert offsets == {r.partition: r.new_offset for r in resets}
