"""A turn with a PNG attachment, sent through the SDK (which stores the file in the lake's
attachments area), goes through the real processor (Kafka, Redis) and sink into the enriched
Delta table, and reaches a curated SFT dataset as an image content part whose file exists and
whose sha256 matches; `datasets.load_dataset` still loads the folder (strings and parts mixed).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from curation import CurationOptions, curate_sft
from producers import FeedbackClient
from producers.settings import ProducerSettings
from schemas.serializer import serializer_for
from schemas.topics import ENRICHED
from sinks import DeltaSink, SinkSettings
from tests.integration.test_attachments import png
from tests.integration.test_processor_support import (
    Namespace,
    Worker,
    namespace_for,
    read_topic,
    wait_until,
)

_FAST_CLOSE = {"FEEDBACK_PROCESSOR_FEEDBACK_GRACE_S": "2"}
_LOAD = """
import json, sys
from datasets import load_dataset
rows = load_dataset(sys.argv[1], "sft", split="train")
print(json.dumps([[m["content"] for m in row["messages"]] for row in rows]))
"""


def _wait_for_enriched(namespace: Namespace, sessions: set[str], worker: Worker) -> None:
    """Until the processor has emitted, for every session, an enriched record with its feedback
    joined (a session can close before its feedback is read: a later revision then adds it)."""
    serializer = serializer_for(ENRICHED)

    def enriched() -> bool:
        messages = read_topic(namespace.bootstrap, namespace.topic(ENRICHED))
        records = [serializer.decode(message.value()) for message in messages]
        return {r["session_id"] for r in records if r["feedback"]} >= sessions

    wait_until(enriched, 90, "the enriched records of every session, feedback joined", worker)


def test_a_png_sent_through_the_sdk_becomes_an_image_part_of_a_loadable_dataset(
    bootstrap_servers: str, redis_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    screenshot = tmp_path / "screen.png"
    image = png(32, 24, seed=7)
    screenshot.write_bytes(image)
    turns: dict[str, str] = {}
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        settings = ProducerSettings(
            bootstrap_servers=bootstrap_servers,
            topic_namespace=namespace.name,
            lake_uri=str(root),
            spool_dir=tmp_path / "spool",
        )
        # A task_completed signal ends each session; a short feedback grace keeps the wait short.
        worker = Worker(namespace, tmp_path / "worker.log", _FAST_CLOSE)
        try:
            with FeedbackClient(settings, registry=CollectorRegistry()) as client:
                for session, prompt, files in (
                    ("s-cur-att-1", "Why is the save button greyed out here?", [screenshot]),
                    ("s-cur-att-2", "How do I export my invoices as CSV?", []),
                ):
                    turn = client.log_interaction(
                        session_id=session,
                        turn_index=0,
                        agent_id="screen-agent",
                        agent_version="2.0.0",
                        model="m",
                        prompt=prompt,
                        response="Here is what to do, step by step.",
                        latency_ms=900,
                        user_id=f"u-{session}",
                        attachments=files,
                    )
                    turns[turn] = prompt
                    client.log_feedback(
                        session_id=session, interaction_id=turn, kind="thumbs", thumbs_up=True
                    )
                    client.log_signal(session_id=session, kind="task_completed")
                assert client.flush(30) == 0
            _wait_for_enriched(namespace, {"s-cur-att-1", "s-cur-att-2"}, worker)
        finally:
            worker.stop()
        DeltaSink(
            SinkSettings(
                bootstrap_servers=bootstrap_servers,
                lake_uri=str(root),
                namespace=namespace.name,
                group_id=f"g-{namespace.name}",
                flush_latency_s=0.5,
            )
        ).run(exit_when_idle_s=2.0)
    with_image = next(iter(turns))
    options = CurationOptions(selection="explicit_praise", eval_share=0.0, attachments=True)
    result = curate_sft(
        str(root), options, output_dir=tmp_path / "sft", prefix=f"{namespace.name}/"
    )
    assert result.manifest["options"]["attachments"] is True
    lines = (result.output_dir / "sft" / "train.jsonl").read_text().splitlines()
    rows = {row["id"]: row for row in map(json.loads, lines)}
    assert set(rows) == set(turns)
    [user] = [m for m in rows[with_image]["messages"] if m["role"] == "user"]
    text, part = user["content"]
    assert text == {"type": "text", "text": turns[with_image]}
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
