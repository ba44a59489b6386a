"""`lake erase` reaches the processor: its Redis state and what it emits afterwards.

Real Kafka, Redis, the worker in a subprocess, the real sink and `feedbackctl lake erase` on a
Delta lake on disk. `u-42` has a session closed (in its grace period) and one open; `u-420` has
one closed, holding a thumbs u-42 gave. After the erasure the worker forgets u-42's sessions and
u-42's thumbs (Redis holds nothing of them) and drops u-42's events that still arrive: a
reviewer's late thumbs on u-42's turn (before, a new revision of the turn, with u-42's prompt,
reached the enriched topic), u-42's next turn, and another thumbs u-42 gives on u-420's turn.
A reviewer's thumbs and u-420's rating, sent last, still revise u-420's turns, without u-42's;
and u-420's turn in an open group chat u-42 joined is enriched at its close without u-42's. Redis
and Kafka are read back with plain clients and searched for u-42's id, sessions and text, which
u-420's never contain (`"u-42"` Avro-encoded is `\\x08u-42`, `"u-420"` is `\\x0au-420`).
"""

import time
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import Producer
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas import serializer_for
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TopicSpec
from sinks import DeltaSink, SinkSettings
from tests.integration.test_processor_support import Namespace, Outputs, Worker, namespace_for
from tests.unit.sinks.events import feedback, interaction, signal

ERASED, NEIGHBOUR, REVIEWER = "u-42", "u-420", "r-7"
MARKERS = (b"\x08u-42", b'"u-42"', b"s-42-", b"from u-42:")
WORKER = {
    "FEEDBACK_PROCESSOR_ERASURE_CHECK_INTERVAL_S": "0.5",
    "FEEDBACK_PROCESSOR_ABANDON_AFTER_S": "600",  # u-42's second session stays open
    "FEEDBACK_PROCESSOR_FEEDBACK_GRACE_S": "3600",  # and the closed ones in their grace period
}


def _mentions_erased(data: bytes) -> bool:
    return any(marker in data for marker in MARKERS)


def _redis_mentions(namespace: Namespace) -> tuple[bool, bool]:
    """Whether the worker's Redis keys, fields or values mention u-42, and u-420's session."""
    client = redis.Redis.from_url(namespace.redis_url)
    erased = neighbour = False
    for key in client.scan_iter(match=f"{namespace.settings.redis_prefix}:*", count=1000):
        items = [key]
        if client.type(key) == b"hash":
            items += [part for pair in client.hgetall(key).items() for part in pair]
        erased = erased or any(_mentions_erased(item) for item in items)
        neighbour = neighbour or any(b"s-420-a" in item for item in items)
    return erased, neighbour


def _redis_holds(namespace: Namespace, event_id: str) -> bool:
    """Whether the worker has persisted an entry of this event (its field names the id)."""
    client = redis.Redis.from_url(namespace.redis_url)
    needle = event_id.encode()
    for key in client.scan_iter(match=f"{namespace.settings.redis_prefix}:*", count=1000):
        fields = client.hkeys(key) if client.type(key) == b"hash" else []
        if any(needle in name for name in (key, *fields)):
            return True
    return False


class Sender:
    """Produces records keyed by session id with Kafka's default partitioning (the SDK's)."""

    def __init__(self, namespace: Namespace) -> None:
        self.namespace = namespace
        self.producer = Producer(
            {"bootstrap.servers": namespace.bootstrap, "partitioner": "murmur2_random"}
        )

    def send(self, spec: TopicSpec, record: dict[str, Any]) -> dict[str, Any]:
        value = serializer_for(spec).encode(record)
        self.producer.produce(self.namespace.topic(spec), value, record["session_id"].encode())
        assert self.producer.flush(30) == 0
        return record


def _enriched(namespace: Namespace) -> list[dict[str, Any]]:
    return [record for record, _ in Outputs.read(namespace).enriched]


def _wait(check: Any, what: str, worker: Worker, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert worker.alive(), f"worker died; see {worker.log_path}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}; see {worker.log_path}"
        time.sleep(0.5)


def test_lake_erase_reaches_the_processors_state_and_later_events(
    bootstrap_servers: str, redis_url: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        env = {**WORKER, "FEEDBACK_PROCESSOR_LAKE_URI": str(lake)}
        worker = Worker(namespace, tmp_path / "worker.log", env)
        try:
            _run(namespace, worker, lake)
        finally:
            worker.stop()
        log = worker.log_path.read_text()
        assert "forgot" in log and "sessions of erased users" in log, log[-3000:]


def _run(namespace: Namespace, worker: Worker, lake: Path) -> None:
    send = Sender(namespace).send
    now = int(time.time() * 1000)
    erased_turn = send(INTERACTIONS, interaction("s-42-a", 0, ERASED, now - 20_000))
    send(INTERACTIONS, interaction("s-42-a", 1, ERASED, now - 19_000))
    send(SIGNALS, signal("s-42-a", "task_completed", now - 18_000))
    send(INTERACTIONS, interaction("s-42-b", 0, ERASED, now - 17_000))
    neighbour_turns = [
        send(INTERACTIONS, interaction("s-420-a", turn, NEIGHBOUR, now - 20_000 + turn * 1000))
        for turn in range(2)
    ]
    given = feedback("s-420-a", neighbour_turns[0]["event_id"], now - 18_500)
    send(FEEDBACK, {**given, "rater_id": ERASED, "comment": "from u-42: thanks"})
    send(SIGNALS, signal("s-420-a", "task_completed", now - 18_000))
    group_turn = send(INTERACTIONS, interaction("s-group", 0, NEIGHBOUR, now - 16_000))
    _wait(lambda: len(_enriched(namespace)) == 4, "both closed sessions enriched", worker)
    erased_before, neighbour_before = _redis_mentions(namespace)
    assert erased_before and neighbour_before  # the check can see what it looks for

    sink = SinkSettings(
        bootstrap_servers=namespace.bootstrap,
        lake_uri=str(lake),
        namespace=namespace.name,
        group_id=f"sink-{namespace.name}",
        flush_latency_s=0.5,
    )
    DeltaSink(sink).run(exit_when_idle_s=2.0)
    # u-42 joins u-420's open group chat after the sink ran: the ledger will not name it.
    joined = send(INTERACTIONS, interaction("s-group", 1, ERASED, now - 15_000))
    _wait(lambda: _redis_holds(namespace, joined["event_id"]), "u-42's turn in the chat", worker)
    result = CliRunner().invoke(
        app,
        ["lake", "erase", "--user-id", ERASED, "--lake-uri", str(lake),
         "--namespace", namespace.name, "--datasets", str(lake.parent / "datasets")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    _wait(lambda: _redis_mentions(namespace) == (False, True), "u-42 gone from Redis", worker)

    later = now + 1_000
    review = feedback("s-42-a", erased_turn["event_id"], later)
    send(FEEDBACK, {**review, "rater_id": REVIEWER, "comment": "from u-42: reviewed"})
    send(INTERACTIONS, interaction("s-42-b", 1, ERASED, later))
    thumbs = feedback("s-420-a", neighbour_turns[0]["event_id"], later)
    send(FEEDBACK, {**thumbs, "rater_id": ERASED})
    thumbs = feedback("s-420-a", neighbour_turns[0]["event_id"], later)
    send(FEEDBACK, {**thumbs, "rater_id": REVIEWER})
    rating = feedback("s-420-a", neighbour_turns[1]["event_id"], later + 1)
    send(FEEDBACK, {**rating, "kind": "rating", "thumbs_up": None, "rating": 5})
    _wait(
        lambda: sum(r["revision"] > 0 for r in _enriched(namespace)) >= 2,
        "the reviewer's thumbs and u-420's rating to revise u-420's turns",
        worker,
    )
    # The chat completes: u-420's turn is enriched without u-42's (until 8 Dec the worker
    # forgot the whole chat, and u-420's turn was never enriched live).
    send(SIGNALS, signal("s-group", "task_completed", later))
    _wait(
        lambda: any(r["session_id"] == "s-group" for r in _enriched(namespace)),
        "u-420's turn in the group chat enriched",
        worker,
    )

    outputs = Outputs.read(namespace)
    revised = {(r["event_id"], r["revision"]) for r, _ in outputs.enriched if r["revision"] > 0}
    # u-42's thumbs sent after the erasure made no revision of its own.
    assert revised == {(neighbour_turns[0]["event_id"], 1), (neighbour_turns[1]["event_id"], 1)}
    first = [r for r, _ in outputs.enriched if r["event_id"] == neighbour_turns[0]["event_id"]]
    raters = {r["revision"]: [f["rater_id"] for f in r["feedback"]] for r in first}
    assert raters == {0: [ERASED], 1: [REVIEWER]}  # the one before the erasure is u-42's to erase
    erased_sessions = [r for r, _ in outputs.enriched if r["session_id"].startswith("s-42-")]
    assert len(erased_sessions) == 2  # enriched before the erasure; nothing after it
    assert not any(_mentions_erased(raw) for r, raw in outputs.enriched if r["revision"] > 0)
    assert not [d for d in outputs.dead_letters if _mentions_erased(repr(d).encode())]
    ((chat, raw),) = [(r, raw) for r, raw in outputs.enriched if r["session_id"] == "s-group"]
    assert (chat["event_id"], chat["session_turns"], chat["session_outcome"]) == (
        group_turn["event_id"],
        1,
        "completed",
    )
    assert not _mentions_erased(raw)
    assert _redis_mentions(namespace) == (False, True)
