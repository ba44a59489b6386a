"""The learning loop's first link: traffic flows through the real pipeline into the lake, and
`feedbackctl curate watch` publishes a DatasetReady record whose files exist and whose sha256
match; a webhook receiver gets the same record, signed.
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from curation.dataset_ready import file_sha256
from curation.webhook import SIGNATURE_HEADER, verify_signature
from schemas.serializer import serializer_for
from schemas.topics import DATASETS
from tests.e2e.pipeline_harness import Pipeline, ServiceRunner
from tests.e2e.pipeline_harness.scenario import run_scenario
from tests.e2e.pipeline_harness.workload import scenario_traffic

SECRET = f"secret-{uuid.uuid4().hex}"


class WebhookReceiver:
    """A training pipeline's endpoint: keeps every request's body and signature header."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, str | None]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((body, self.headers.get(SIGNATURE_HEADER)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/datasets"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


def _first_dataset_ready(bootstrap: str, topic: str, timeout_s: float) -> dict[str, Any]:
    serializer = serializer_for(DATASETS)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-datasets-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None and message.value():
                return serializer.decode(message.value())
        raise AssertionError(f"no DatasetReady on {topic} within {timeout_s:.0f}s")
    finally:
        consumer.close()


def test_curate_watch_publishes_a_checkable_dataset_ready_and_signs_the_webhook(
    pipeline: Pipeline, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    config = scenario_traffic(300, seed=23)
    pipeline.match_traffic(config)
    pipeline.start_processor()
    pipeline.start_sink()
    pipeline.wait_ready()
    output_root = tmp_path / "datasets"
    watch = ServiceRunner(
        "watch",
        ["curate", "watch"],
        {
            "FEEDBACK_WATCH_LAKE_URI": str(pipeline.lake_dir),
            "FEEDBACK_WATCH_LAKE_PREFIX": f"{pipeline.namespace}/",
            "FEEDBACK_WATCH_TOPIC_NAMESPACE": pipeline.namespace,
            "FEEDBACK_WATCH_BOOTSTRAP_SERVERS": pipeline.bootstrap,
            "FEEDBACK_WATCH_OUTPUT_ROOT": str(output_root),
            "FEEDBACK_WATCH_EVERY_EXAMPLES": "10",
            "FEEDBACK_WATCH_POLL_SECONDS": "2",
            "FEEDBACK_WATCH_WEBHOOK_URL": receiver.url,
            "FEEDBACK_WATCH_WEBHOOK_SECRET": SECRET,
        },
        pipeline.log_dir / "watch.log",
    )
    try:
        run_scenario(pipeline, config, already_started=True)  # traffic flows, lake reconciled
        topic = DATASETS.in_namespace(pipeline.namespace).name
        record = _first_dataset_ready(pipeline.bootstrap, topic, timeout_s=120)
        assert watch.alive(), watch.log_tail()
    finally:
        watch.stop()
    # The record points at a dataset that exists, byte for byte.
    manifest_path = Path(record["manifest_path"])
    assert manifest_path.is_file()
    assert file_sha256(manifest_path) == record["manifest_sha256"]
    manifest = json.loads(manifest_path.read_text())
    assert manifest["output_sha256"] == record["output_sha256"]
    assert manifest["files"]
    for entry in manifest["files"]:
        assert file_sha256(manifest_path.parent / entry["path"]) == entry["sha256"]
    assert record["kind"] == "sft" and record["trigger"] == "new_examples"
    assert record["agent_rows"] >= 10 and record["new_rows"] == record["agent_rows"]
    version = record["lake_versions"]["enriched_interactions"]
    assert manifest["source"]["delta_version"] == version
    assert sum(record["rows"].values()) >= record["agent_rows"]
    # The webhook got the same record, with a valid signature.
    bodies = [json.loads(body) for body, _ in receiver.requests]
    assert record in bodies
    body, signature = receiver.requests[bodies.index(record)]
    assert verify_signature(body, SECRET, signature)
