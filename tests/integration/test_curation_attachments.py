"""A turn with a PNG attachment, sent through the SDK (which stores the file in the lake's
attachments area), reaches a curated SFT dataset as an image content part whose file exists and
whose sha256 matches; `datasets.load_dataset` still loads the folder (strings and parts mixed).

The interaction travels on the real Kafka and is decoded from it; its enriched record (the
processor's output: the interaction's fields plus feedback and labels) is built from that decoded
record and written by the real sink into the real Delta table curation reads.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from curation import CurationOptions, curate_sft
from producers import FeedbackClient
from producers.settings import ProducerSettings
from schemas import serializer_for
from schemas.topics import ENRICHED, INTERACTIONS
from sinks import DeltaSink, SinkSettings
from tests.integration.test_attachments import png
from tests.integration.test_sink_exactly_once import sink_topics
from tests.unit.sinks.events import enriched

_LOAD = """
import json, sys
from datasets import load_dataset
rows = load_dataset(sys.argv[1], "sft", split="train")
print(json.dumps([[m["content"] for m in row["messages"]] for row in rows]))
"""


def _interactions(bootstrap: str, topic: str, wanted: int) -> list[dict[str, Any]]:
    serializer = serializer_for(INTERACTIONS)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{topic}-read"})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in metadata.partitions])
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while len(records) < wanted and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            value = None if message is None or message.error() else message.value()
            if value:
                records.append(serializer.decode(value))
        assert len(records) == wanted, f"read {len(records)} of {wanted} interactions"
        return records
    finally:
        consumer.close()


def _enriched_from(record: dict[str, Any]) -> dict[str, Any]:
    """The processor's record of a praised one-turn session (rating 4, completed)."""
    base = enriched(record["session_id"], record["turn_index"], record["user_id"], 0)
    return {**base, **record, "reward": 0.9, "reward_confidence": 0.9}


def test_a_png_sent_through_the_sdk_becomes_an_image_part_of_a_loadable_dataset(
    bootstrap_servers: str, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    screenshot = tmp_path / "screen.png"
    image = png(32, 24, seed=7)
    screenshot.write_bytes(image)
    with sink_topics(bootstrap_servers) as namespace:
        settings = ProducerSettings(
            bootstrap_servers=bootstrap_servers,
            topic_namespace=namespace,
            lake_uri=str(root),
            spool_dir=tmp_path / "spool",
        )
        with FeedbackClient(settings, registry=CollectorRegistry()) as client:
            with_image = client.log_interaction(
                session_id="s-cur-att-1",
                turn_index=0,
                agent_id="screen-agent",
                agent_version="2.0.0",
                model="m",
                prompt="Why is the save button greyed out on this screen?",
                response="The form has an empty required field: the email.",
                latency_ms=900,
                user_id="u-1",
                attachments=[screenshot],
            )
            client.log_interaction(
                session_id="s-cur-att-2",
                turn_index=0,
                agent_id="screen-agent",
                agent_version="2.0.0",
                model="m",
                prompt="How do I export my invoices as CSV?",
                response="Open Billing, choose Invoices, then Export as CSV.",
                latency_ms=700,
                user_id="u-2",
            )
            assert client.flush(30) == 0
        topic = INTERACTIONS.in_namespace(namespace).name
        records = _interactions(bootstrap_servers, topic, wanted=2)
        producer = Producer({"bootstrap.servers": bootstrap_servers})
        encode = serializer_for(ENRICHED).encode
        for record in records:
            value = encode(_enriched_from(record))
            producer.produce(ENRICHED.in_namespace(namespace).name, value, record["session_id"])
        assert producer.flush(30) == 0
        DeltaSink(
            SinkSettings(
                bootstrap_servers=bootstrap_servers,
                lake_uri=str(root),
                namespace=namespace,
                group_id=f"g-{namespace}",
                flush_latency_s=0.5,
            )
        ).run(exit_when_idle_s=2.0)
    options = CurationOptions(selection="explicit_praise", eval_share=0.0, attachments=True)
    result = curate_sft(str(root), options, output_dir=tmp_path / "sft", prefix=f"{namespace}/")
    assert result.manifest["options"]["attachments"] is True
    lines = (result.output_dir / "sft" / "train.jsonl").read_text().splitlines()
    rows = {row["id"]: row for row in map(json.loads, lines)}
    assert set(rows) == {r["event_id"] for r in records}
    [user] = [m for m in rows[with_image]["messages"] if m["role"] == "user"]
    text, part = user["content"]
    assert text == {"type": "text", "text": "Why is the save button greyed out on this screen?"}
    assert part["type"] == "image_url"
    attachment = part["attachment"]
    assert part["image_url"]["url"] == attachment["uri"]
    assert attachment["media_type"] == "image/png" and attachment["size_bytes"] == len(image)
    stored = Path(attachment["uri"].removeprefix("file://"))
    assert stored.is_file() and stored.is_relative_to(root)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == attachment["sha256"]
    assert attachment["sha256"] == hashlib.sha256(image).hexdigest()
    # Turns without attachments keep plain string content.
    [other] = [r for r in rows if r != with_image]
    assert all(isinstance(m["content"], str | None) for m in rows[other]["messages"])
    # datasets (offline) loads the folder, with the same mixed content.
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf")}  # fmt: skip
    loaded = subprocess.run(
        [sys.executable, "-c", _LOAD, str(result.output_dir)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    contents = json.loads(loaded.stdout.strip().splitlines()[-1])
    expected = [[m["content"] for m in row["messages"]] for row in map(json.loads, lines)]
    assert contents == expected
