"""Records per second of both wire formats, in process (no Kafka): encode and decode of the
generator's interactions in Avro single-object encoding and in the Confluent framing.

    python benchmarks/wire_formats.py [--records 20000] [--registry-url URL]

Needs a running registry with the Confluent-compatible API (`feedbackctl stack up --registry`):
Confluent-framed messages are written by confluent-kafka's `AvroSerializer` (schema ids from the
registry, looked up once). Rows: encode with the project's compiled single-object writer; encode
with `AvroSerializer`; decode either framing with the project's reader (what the processor and
the sink do: the schema id is resolved once, then the same compiled reader runs); and decode
with confluent-kafka's `AvroDeserializer` (logical types applied: datetimes and UUIDs), for
comparison. Prints the machine's load average beside the numbers.
"""

import argparse
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from local_stack.registry_node import RegistrySettings
from producers.traffic import TrafficConfig, generate_traffic
from schemas.registry import RegistryClient, RegistrySerializer
from schemas.serializer import SingleObjectSerializer
from schemas.topics import INTERACTIONS


def rate(label: str, items: list[Any], work: Callable[[Any], Any]) -> float:
    """Best of three passes, records per second."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for item in items:
            work(item)
        best = min(best, time.perf_counter() - started)
    per_second = len(items) / best
    print(f"{label:<58} {per_second:>10,.0f} records/s")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--registry-url", default=RegistrySettings().url)
    args = parser.parse_args()
    traffic = generate_traffic(TrafficConfig(sessions=args.records // 4, seed=3))
    records = [
        e.record
        for e in traffic.events()
        if e.record is not None and e.topic.name == INTERACTIONS.name
    ][: args.records]
    topic = INTERACTIONS.in_namespace(f"bench{uuid.uuid4().hex[:8]}")
    single = SingleObjectSerializer(INTERACTIONS.value_record)
    registry = RegistryClient(args.registry_url)
    confluent = RegistrySerializer(topic.name, topic.value_record, registry)
    reader = SingleObjectSerializer(INTERACTIONS.value_record, resolver=registry)
    single_messages = [single.encode(r) for r in records]
    confluent_messages = [confluent.encode(r) for r in records]
    size = sum(map(len, single_messages)) / len(single_messages)
    print(f"{len(records)} interactions, {size:,.0f} bytes each on average; load {os.getloadavg()}")
    rate("encode single-object (compiled writer)", records, single.encode)
    rate("encode confluent (AvroSerializer)", records, confluent.encode)
    rate("decode single-object (project reader)", single_messages, reader.decode)
    rate("decode confluent (project reader, id resolved once)", confluent_messages, reader.decode)
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": args.registry_url}))
    context = SerializationContext(topic.name, MessageField.VALUE)
    rate("decode confluent (AvroDeserializer)", confluent_messages,
         lambda m: deserializer(m, context))  # fmt: skip
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
