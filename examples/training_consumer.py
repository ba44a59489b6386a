"""A training pipeline's side of the loop: wait for DatasetReady, check the dataset, start a job.

    python examples/training_consumer.py --bootstrap-servers 127.0.0.1:19092
    python examples/training_consumer.py --webhook-port 8090 --secret "$WEBHOOK_SECRET"

From Kafka (`agent.datasets.v1`) or from the signed webhook of `feedbackctl curate watch`, each
record is checked (signature, manifest sha256, every data file's sha256) and a (dummy) training
job is started: a subprocess that prints what a real trainer would be given. There is no training
code in the project; replace `start_training_job` with your trainer's launcher.
"""

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from curation.dataset_ready import file_sha256
from curation.webhook import SIGNATURE_HEADER, verify_signature
from schemas.serializer import serializer_for
from schemas.topics import DATASETS

__all__ = ["check_dataset", "start_training_job"]


def check_dataset(record: Mapping[str, Any]) -> Path:
    """The dataset's folder once its manifest and files match their sha256; ValueError if not."""
    manifest_path = Path(record["manifest_path"])
    if file_sha256(manifest_path) != record["manifest_sha256"]:
        raise ValueError(f"{manifest_path} does not match the announced sha256")
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest["files"]:
        if file_sha256(manifest_path.parent / entry["path"]) != entry["sha256"]:
            raise ValueError(f"{entry['path']} does not match its sha256 in the manifest")
    return manifest_path.parent


def start_training_job(record: Mapping[str, Any]) -> subprocess.Popen[bytes]:
    """Start the (dummy) job: a process given the dataset folder, the agent and the kind."""
    folder = check_dataset(record)
    job = (
        "import sys; print(f'training {sys.argv[1]} on {sys.argv[2]} dataset {sys.argv[3]} "
        "({sys.argv[4]} rows, estimated quality {sys.argv[5]})')"
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            job,
            str(record["agent_id"]),
            str(record["kind"]),
            str(folder),
            str(record["agent_rows"]),
            str(record["estimated_quality"]),
        ]
    )


def from_kafka(bootstrap_servers: str, topic: str, group: str) -> None:
    serializer = serializer_for(DATASETS)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": group, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    try:
        while True:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None:
                continue
            value = message.value()
            if not value:
                continue
            start_training_job(serializer.decode(value)).wait()
            consumer.commit(message=message)  # a job started is a record consumed
    finally:
        consumer.close()


def from_webhook(port: int, secret: str) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not verify_signature(body, secret, self.headers.get(SIGNATURE_HEADER)):
                self.send_response(401)
                self.end_headers()
                return
            start_training_job(json.loads(body))
            self.send_response(202)
            self.end_headers()

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:19092")
    parser.add_argument("--topic", default=DATASETS.name)
    parser.add_argument("--group", default="example-trainer")
    parser.add_argument("--webhook-port", type=int, help="Receive the webhook instead of Kafka.")
    parser.add_argument("--secret", help="The webhook's HMAC secret.")
    args = parser.parse_args()
    if args.webhook_port:
        if not args.secret:
            parser.error("--webhook-port needs --secret")
        from_webhook(args.webhook_port, args.secret)
    else:
        from_kafka(args.bootstrap_servers, args.topic, args.group)


if __name__ == "__main__":
    main()
