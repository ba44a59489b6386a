"""Kafka stopped while agents post to the gateway: nothing acknowledged is lost, nothing doubled.

The gateway acknowledges from its durable spool while the broker is down and replays the spool
when it is back. The broker stopped here is the e2e suite's private one (the shared stack is
never touched); the sink writes `raw_events`, where every event the gateway answered 2xx for
must be, and an event present twice (a replay of one that had in fact arrived) must be the same
bytes, so deduplication by event_id leaves each exactly once.
"""

import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import pyarrow.compute as pc
import pytest
import requests

from producers.spool import spool_files
from schemas.topics import INPUT_TOPICS
from tests.e2e.pipeline_harness import Pipeline
from tests.integration.gateway.process import GatewayProcess, start_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480)]

AGENT = "outage-bot"
OUTAGE_S = 20.0


class Poster:
    """Posts a batch every 0.2 s until stopped; remembers what was acknowledged, and where."""

    def __init__(self, gateway: GatewayProcess, key: str) -> None:
        self.gateway = gateway
        self.key = key
        self.acked: dict[str, str] = {}  # event_id -> kafka | spool
        self.refused: list[int] = []  # HTTP statuses other than 202 (503 when the spool is full)
        self.failed_requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Poster":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _run(self) -> None:
        turn = 0
        while not self._stop.is_set():
            session = f"outage-{uuid.uuid4().hex[:8]}"
            batch = [self._interaction(session, i) for i in range(8)]
            batch.append({"type": "signal", "session_id": session, "kind": "task_completed"})
            turn += 1
            try:
                answer = self.gateway.post("/v1/events", batch, self.key)
            except requests.RequestException:
                self.failed_requests += 1
                continue
            if answer.status_code != 202:
                self.refused.append(answer.status_code)
            for item in answer.json().get("accepted", []):
                self.acked[item["event_id"]] = item["stored"]
            self._stop.wait(0.2)

    @staticmethod
    def _interaction(session: str, turn: int) -> dict[str, Any]:
        return {
            "type": "interaction", "session_id": session, "turn_index": turn,
            "agent_id": AGENT, "agent_version": "1.0.0", "model": "acme-small",
            "prompt": f"question {turn}", "response": f"answer {turn}", "latency_ms": 100 + turn,
        }  # fmt: skip


def test_kafka_stopped_during_a_stream_of_posts(pipeline: Pipeline) -> None:
    pipeline.start_processor()
    pipeline.start_sink()
    pipeline.wait_ready()
    gateway = start_gateway(
        pipeline.work_dir / "gateway",
        pipeline.bootstrap,
        pipeline.namespace,
        ack_timeout_ms="5000",
        replay_interval_s="1",
    )
    try:
        poster = Poster(gateway, gateway.add_key(AGENT, rate_per_s=100_000, burst=100_000))
        poster.start()
        time.sleep(5)
        before = len(poster.acked)
        pipeline.stack.restart_kafka(OUTAGE_S)
        time.sleep(5)
        poster.stop()
        assert poster.refused == [] and poster.failed_requests == 0, (
            poster.refused[:5], poster.failed_requests, gateway.log()[-3000:],
        )  # fmt: skip
        stored = defaultdict(int)
        for where in poster.acked.values():
            stored[where] += 1
        assert before > 0 and stored["spool"] > 0, (stored, gateway.log()[-3000:])
        pipeline.wait_until(
            lambda: not spool_files(gateway.spool_dir), 120, "the gateway to replay its spool"
        )
    finally:
        gateway.stop()
    pipeline.wait_lake_caught_up(180)

    inputs = [spec.in_namespace(pipeline.namespace).name for spec in INPUT_TOPICS]
    raw = (
        pipeline.lake.open("raw_events")
        .to_pyarrow_table(
            columns=["event_id", "value"], filters=pc.field("kafka_topic").isin(inputs)
        )
        .to_pylist()
    )
    values: dict[str, set[bytes]] = defaultdict(set)
    for row in raw:
        values[row["event_id"]].add(row["value"])
    missing = set(poster.acked) - set(values)
    assert not missing, f"{len(missing)} acknowledged events not in raw_events: {list(missing)[:5]}"
    differing = [event_id for event_id, seen in values.items() if len(seen) > 1]
    assert differing == [], f"event ids with different contents: {differing[:5]}"
    assert set(values) == set(poster.acked), "raw_events holds events nobody was told were taken"
