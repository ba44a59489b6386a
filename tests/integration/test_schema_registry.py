"""Schema Registry mode against a real registry (Apicurio Registry, `local_stack.registry_node`).

1. A namespace in registry mode: the generator's events go in through the namespace's serializer
   (confluent-kafka's AvroSerializer), a processor worker and a sink run with the same settings,
   and confluent-kafka's own `AvroDeserializer`, given only the registry, decodes every message of
   every topic of the namespace (inputs, enriched, metrics, dead letters); each carries the
   content-type header of its framing; the sink wrote every event to the lake.
2. A mixed namespace: half the sessions are written in each format; the processor (writing
   single-object) and the sink take all of them.
3. A catalog version the registry finds incompatible is not registered.
"""

import json
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from local_stack.registry_node import RegistryNode, RegistrySettings
from producers.traffic import generate_traffic
from schemas.catalog import SchemaCatalog, load_version
from schemas.lake import ENRICHED_INTERACTIONS, RAW_EVENTS
from schemas.registry import RegistryClient, RegistrySerializer, subject_of
from schemas.registry_errors import IncompatibleSchemaError
from schemas.serializer import (
    CONTENT_TYPES,
    SingleObjectSerializer,
    content_type_headers,
    serializer_for,
)
from schemas.topics import DEADLETTER, ENRICHED, INPUT_TOPICS, INTERACTIONS, METRICS, TOPICS
from sinks.lake import Lake
from sinks.lake_reader import read_table
from tests.e2e.pipeline_harness.private_stack import free_port
from tests.integration.test_processor_support import (
    Namespace,
    Outputs,
    Worker,
    namespace_for,
    read_topic,
    traffic_config,
)
from tests.integration.test_prometheus_endpoints import Service, wait_for


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry of this module's own (built from Maven Central on first use), on a free port
    with its database in a temporary directory; its JVM is stopped when the module ends."""
    settings = RegistrySettings(state_dir=tmp_path_factory.mktemp("registry"), port=free_port())
    with RegistryNode(settings) as node:
        yield node.url


@pytest.fixture
def namespace(bootstrap_servers: str, redis_url: str) -> Iterator[Namespace]:
    with namespace_for(bootstrap_servers, redis_url) as created:
        yield created


def _produce(
    namespace: Namespace, pick: Any, sessions: int, **config: Any
) -> tuple[Counter[str], dict[str, set[str]]]:
    """Generator traffic, each event encoded by `pick(topic, session_id)`; returns the
    messages produced and the event ids, by topic."""
    traffic = generate_traffic(traffic_config(sessions=sessions, bad_record_share=0.0, **config))
    producer = Producer({"bootstrap.servers": namespace.bootstrap, "linger.ms": 5})
    produced: Counter[str] = Counter()
    ids: dict[str, set[str]] = {spec.name: set() for spec in INPUT_TOPICS}
    for event in traffic.events():
        assert event.record is not None
        topic = event.topic.in_namespace(namespace.name)
        value = pick(topic, event.record["session_id"]).encode(event.record)
        producer.produce(topic.name, value, event.key, headers=content_type_headers(value))
        produced[event.topic.name] += 1
        ids[event.topic.name].add(event.record["event_id"])
    assert producer.flush(30) == 0
    return produced, ids


def _enriched_ids(namespace: Namespace) -> set[str]:
    """Interaction ids of the enriched records (either framing; FEEDBACK_WIRE_REGISTRY_URL set)."""
    return {record["event_id"] for record, _ in Outputs.read(namespace).enriched}


def _sink(namespace: Namespace, lake_root: Path, env: dict[str, str], log: Path) -> Service:
    return Service(
        ["sink", "--namespace", namespace.name, "--log-level", "WARNING"],
        {
            **env,
            "FEEDBACK_SINK_BOOTSTRAP_SERVERS": namespace.bootstrap,
            "FEEDBACK_SINK_LAKE_URI": str(lake_root),
            "FEEDBACK_SINK_FLUSH_LATENCY_S": "1",
        },
        log,
    )


def _lake_ids(lake_root: Path, namespace: Namespace, table: str) -> set[str] | None:
    if not (lake_root / namespace.name / table).exists():
        return None
    rows = read_table(table, lake=Lake(str(lake_root), f"{namespace.name}/")).to_pylist()
    assert all(row.get("decode_error") is None for row in rows), [
        row["decode_error"] for row in rows if row.get("decode_error")
    ][:3]
    return {row["event_id"] for row in rows}


def test_every_message_of_a_registry_namespace_decodes_with_avro_deserializer(
    registry_url: str,
    namespace: Namespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "FEEDBACK_WIRE_REGISTRY_URL": registry_url,
        "FEEDBACK_WIRE_NAMESPACE_FORMATS": json.dumps({namespace.name: "confluent"}),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    produced, ids = _produce(
        namespace, lambda topic, _session: serializer_for(topic), sessions=16, too_late_share=0.2
    )
    every_id = set().union(*ids.values())
    sink = _sink(namespace, tmp_path / "lake", env, tmp_path / "sink.log")
    worker = Worker(namespace, tmp_path / "worker.log", env)
    try:
        wait_for(
            lambda: _enriched_ids(namespace) >= ids[INTERACTIONS.name],
            180, "every interaction enriched", [],
        )  # fmt: skip
    finally:
        worker.stop()
    try:
        deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
        decoded: Counter[str] = Counter()
        confluent_header = ("content-type", CONTENT_TYPES["confluent"].encode())
        for spec in TOPICS:
            topic = namespace.topic(spec)
            for message in read_topic(namespace.bootstrap, topic):
                value = message.value()
                assert value[0] == 0, f"{topic}: not in the Confluent framing"
                record = deserializer(value, SerializationContext(topic, MessageField.VALUE))
                assert isinstance(record, dict) and record, topic
                assert confluent_header in (message.headers() or []), topic
                decoded[spec.name] += 1
        for spec in INPUT_TOPICS:
            assert decoded[spec.name] >= produced[spec.name] > 0, spec.name
        for spec in (ENRICHED, METRICS, DEADLETTER):
            assert decoded[spec.name] > 0, spec.name  # too-late feedback: dead letters
        registry = SchemaRegistryClient({"url": registry_url})
        subject = subject_of(namespace.topic(INTERACTIONS))
        assert registry.get_compatibility(subject) == "BACKWARD"
        assert len(registry.get_versions(subject)) == len(
            RegistryClient(registry_url).catalog.versions(INTERACTIONS.value_record)
        )
        # The sink read the same messages: every input event and enriched record is in the lake.
        lake_root = tmp_path / "lake"

        def in_lake() -> bool:
            raw = _lake_ids(lake_root, namespace, RAW_EVENTS.name)
            enriched = _lake_ids(lake_root, namespace, ENRICHED_INTERACTIONS.name)
            return (
                raw is not None
                and raw >= every_id
                and enriched is not None
                and enriched >= ids[INTERACTIONS.name]
            )

        wait_for(in_lake, 120, "the registry namespace in the lake", [sink])
    finally:
        sink.stop()


def test_processor_and_sink_take_a_namespace_with_both_formats(
    registry_url: str,
    namespace: Namespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"FEEDBACK_WIRE_REGISTRY_URL": registry_url}  # the namespace writes single-object
    monkeypatch.setenv("FEEDBACK_WIRE_REGISTRY_URL", registry_url)
    client = RegistryClient(registry_url)
    confluent: dict[str, RegistrySerializer] = {}

    def pick(topic: Any, session_id: str) -> SingleObjectSerializer:
        if zlib.crc32(session_id.encode()) % 2:
            return SingleObjectSerializer(topic.value_record)
        if topic.name not in confluent:
            confluent[topic.name] = RegistrySerializer(topic.name, topic.value_record, client)
        return confluent[topic.name]

    produced, ids = _produce(namespace, pick, sessions=16, too_late_share=0.0, duplicate_share=0.0)
    every_id = set().union(*ids.values())
    framings = Counter(
        message.value()[0] == 0
        for spec in INPUT_TOPICS
        for message in read_topic(namespace.bootstrap, namespace.topic(spec))
    )
    assert framings[True] > 0 and framings[False] > 0  # both formats are in the inputs
    interactions = ids[INTERACTIONS.name]
    assert len(interactions) == produced[INTERACTIONS.name] > 0
    sink = _sink(namespace, tmp_path / "lake", env, tmp_path / "sink.log")
    worker = Worker(namespace, tmp_path / "worker.log", env)
    try:
        wait_for(
            lambda: _enriched_ids(namespace) >= interactions,
            180, "every interaction of both formats enriched", [],
        )  # fmt: skip
    finally:
        worker.stop()
    try:
        outputs = Outputs.read(namespace)
        reasons = Counter(letter["reason"] for letter in outputs.dead_letters)
        assert not reasons, reasons  # nothing refused, in either format
        assert all(raw[:2] == b"\xc3\x01" for _, raw in outputs.enriched)  # single-object out
        lake_root = tmp_path / "lake"

        def in_lake() -> bool:
            raw = _lake_ids(lake_root, namespace, RAW_EVENTS.name)
            enriched = _lake_ids(lake_root, namespace, ENRICHED_INTERACTIONS.name)
            return (
                raw is not None
                and raw >= every_id
                and enriched is not None
                and enriched >= interactions
            )

        wait_for(in_lake, 120, "both formats in the lake", [sink])
    finally:
        sink.stop()


def test_a_catalog_version_the_registry_finds_incompatible_is_refused(registry_url: str) -> None:
    """Registration asks the registry (subject compatibility BACKWARD) before each version."""
    namespace = f"compat{uuid.uuid4().hex[:8]}"

    def record(field_type: str) -> dict[str, Any]:
        fields = [{"name": "event_id", "type": "string"}, {"name": "n", "type": field_type}]
        return {"type": "record", "name": "Probe", "namespace": namespace, "fields": fields}

    versions = [load_version(record("string"), 1), load_version(record("boolean"), 2)]
    client = RegistryClient(registry_url, SchemaCatalog(versions))
    topic_name = f"probe.{namespace}"
    with pytest.raises(IncompatibleSchemaError, match="v2 is not BACKWARD compatible"):
        client.register(topic_name, f"{namespace}.Probe")
    registered = SchemaRegistryClient({"url": registry_url}).get_versions(subject_of(topic_name))
    assert len(registered) == 1  # v1 only
