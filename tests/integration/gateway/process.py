"""A gateway process for tests: `python -m feedbackctl gateway` on a free port, as users run it."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import requests

from gateway.keys import KeyFile
from tests.ports import free_port

__all__ = ["GatewayProcess", "read_topic", "start_gateway"]

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class GatewayProcess:
    """The running gateway, its key file and spool; `stop()` is a clean SIGTERM."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    keys: KeyFile
    spool_dir: Path

    def add_key(self, agent: str, **limits: Any) -> str:
        return self.keys.add(agent, **limits)[1]

    def post(
        self, path: str, body: Any, key: str | None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        return requests.post(f"{self.url}{path}", data=data, headers=sent, timeout=60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_gateway(
    work_dir: Path, bootstrap_servers: str, namespace: str, **settings: str
) -> GatewayProcess:
    """Start a gateway writing to `<topic>.<namespace>`; returns once /healthz answers.
    `settings` are extra FEEDBACK_GATEWAY_<NAME> values (e.g. rate_limit_events_per_s="5")."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    keys_file = work_dir / "keys.json"
    spool_dir = work_dir / "spool"
    env = {
        **os.environ,
        "FEEDBACK_GATEWAY_PORT": str(port),
        "FEEDBACK_GATEWAY_BOOTSTRAP_SERVERS": bootstrap_servers,
        "FEEDBACK_GATEWAY_TOPIC_NAMESPACE": namespace,
        "FEEDBACK_GATEWAY_KEYS_FILE": str(keys_file),
        "FEEDBACK_GATEWAY_SPOOL_DIR": str(spool_dir),
        **{f"FEEDBACK_GATEWAY_{name.upper()}": value for name, value in settings.items()},
    }
    log_path = work_dir / "gateway.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedbackctl", "gateway"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(
        f"http://127.0.0.1:{port}", process, log_path, KeyFile(keys_file), spool_dir
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited ({process.returncode}):\n{gateway.log()}")
        try:
            if requests.get(f"{gateway.url}/healthz", timeout=2).status_code == 200:
                return gateway
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    gateway.stop()
    raise AssertionError(f"the gateway did not answer in 60 s:\n{gateway.log()}")


def read_topic(bootstrap_servers: str, topic: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Every record of a topic from the beginning, decoded (stops at the end offsets)."""
    from confluent_kafka import Consumer, TopicPartition

    from schemas.serializer import serializer_for
    from schemas.topics import TOPICS

    spec = next(s for s in TOPICS if topic == s.name or topic.startswith(f"{s.name}."))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"test-gateway-{os.getpid()}-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in metadata.partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        serializer = serializer_for(spec)
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < sum(ends.values()) and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                assert message.error() is None, message.error()
                records.append(serializer.decode(message.value()))
        return records
    finally:
        consumer.close()
