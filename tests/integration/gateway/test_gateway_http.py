"""The gateway on the real stack: per-event answers, limits, keys and OTLP, read back from Kafka."""

import contextlib
import gzip
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import AdminClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from local_stack.topics import ensure_topics
from schemas.topics import FEEDBACK, INTERACTIONS, SIGNALS, TOPICS
from tests.integration.gateway.otlp_payloads import chat_export, otlp_json
from tests.integration.gateway.process import GatewayProcess, read_topic, start_gateway

AGENT = "support-bot"


@pytest.fixture(scope="module")
def namespace(bootstrap_servers: str) -> Iterator[str]:
    name = f"gw{uuid.uuid4().hex[:10]}"
    specs = [spec.in_namespace(name) for spec in TOPICS]
    ensure_topics(bootstrap_servers, specs)
    yield name
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for future in admin.delete_topics([spec.name for spec in specs]).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


@pytest.fixture(scope="module")
def gateway(
    bootstrap_servers: str, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    process = start_gateway(
        tmp_path_factory.mktemp("gateway"),
        bootstrap_servers,
        namespace,
        max_body_bytes="200000",
        max_events_per_request="50",
        body_timeout_s="1",
        keepalive_timeout_s="2",
        max_json_depth="8",
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def key(gateway: GatewayProcess) -> str:
    return gateway.add_key(AGENT, rate_per_s=10_000, burst=10_000)


def interaction(session: str, turn: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "interaction",
        "event_id": str(uuid.uuid4()),
        "session_id": session,
        "turn_index": turn,
        "agent_id": AGENT,
        "agent_version": "2.0.0",
        "model": "acme-large",
        "prompt": "How do I reset my password?",
        "response": "Settings, Security, Reset password.",
        "latency_ms": 640,
        "tools_used": [{"name": "search_kb", "arguments": {"query": "reset"}}],
        **extra,
    }


def ids_in(bootstrap: str, topic: str) -> set[str]:
    return {record["event_id"] for record in read_topic(bootstrap, topic)}


def test_good_events_are_taken_and_each_bad_one_is_named(
    gateway: GatewayProcess, key: str, namespace: str, bootstrap_servers: str
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    good_turn = interaction(session)
    batch = [
        good_turn,
        {"type": "feedback", "session_id": session, "kind": "rating", "rating": 7},
        {"type": "feedback", "session_id": session, "interaction_id": good_turn["event_id"],
         "kind": "thumbs", "thumbs_up": True, "event_time": "2026-01-31T12:00:00+00:00"},
        interaction(session, 1, latency_ms=1.5),
        {"type": "signal", "session_id": session, "kind": "task_completed"},
        {"type": "signal", "session_id": "", "kind": "task_completed"},
        {"type": "verdict", "session_id": session},
        interaction(session, 2, surprise="field"),
        interaction(session, 3, agent_id="another-agent"),
        {"type": "signal", "session_id": session, "kind": "task_completed",
         "event_time": "2026-01-31T12:00:00"},
    ]  # fmt: skip
    answer = gateway.post("/v1/events", batch, key)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert [item["index"] for item in body["accepted"]] == [0, 2, 4]
    assert all(item["stored"] == "kafka" for item in body["accepted"])
    assert body["unavailable"] == []
    named = {item["index"]: item["errors"][0]["field"] for item in body["rejected"]}
    assert named == {
        1: "rating", 3: "latency_ms", 5: "session_id", 6: "type", 7: "surprise",
        8: "agent_id", 9: "event_time",
    }  # fmt: skip
    assert all(item["errors"][0]["message"] for item in body["rejected"])
    accepted = {item["event_id"] for item in body["accepted"]}
    assert good_turn["event_id"] in accepted
    in_kafka = set()
    for spec in (INTERACTIONS, FEEDBACK, SIGNALS):
        in_kafka |= ids_in(bootstrap_servers, spec.in_namespace(namespace).name)
    assert accepted <= in_kafka
    rejected_ids = {batch[i].get("event_id") for i in named} - {None}
    assert not rejected_ids & in_kafka


def test_every_event_good_is_202_and_kind_routes_take_one_or_many(
    gateway: GatewayProcess, key: str
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    turn = interaction(session)
    del turn["type"]
    single = gateway.post("/v1/interactions", turn, key)
    assert single.status_code == 202, single.text
    assert single.json()["accepted"][0]["event_id"] == turn["event_id"]
    many = gateway.post(
        "/v1/signals",
        [
            {"session_id": session, "kind": "retried"},
            {"session_id": session, "kind": "task_failed"},
        ],
        key,
    )
    assert many.status_code == 202 and len(many.json()["accepted"]) == 2


def test_oversized_bodies_and_batches_are_413(gateway: GatewayProcess, key: str) -> None:
    huge = [interaction("s-big", prompt="x" * 250_000)]
    assert gateway.post("/v1/events", huge, key).status_code == 413
    many = [interaction("s-many", i) for i in range(51)]
    answer = gateway.post("/v1/events", many, key)
    assert answer.status_code == 413 and "at most 50" in answer.json()["error"]


def test_a_compressed_body_is_limited_after_decompression(
    gateway: GatewayProcess, key: str
) -> None:
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 200_000
    answer = gateway.post("/v1/events", bomb, key, {"Content-Encoding": "gzip"})
    assert answer.status_code == 413
    small = gzip.compress(orjson.dumps([interaction("s-gzip")]))
    assert gateway.post("/v1/events", small, key, {"Content-Encoding": "gzip"}).status_code == 202


def test_too_deep_or_not_json_is_400(gateway: GatewayProcess, key: str) -> None:
    deep: Any = "leaf"
    for _ in range(10):
        deep = [deep]
    nested = interaction("s-deep", tools_used=[{"name": "t", "arguments": deep}])
    answer = gateway.post("/v1/events", [nested], key)
    assert answer.status_code == 400 and "deeper than 8" in answer.json()["error"]
    assert gateway.post("/v1/events", b"[{not json", key).status_code == 400


def test_wrong_missing_or_revoked_keys_are_401(gateway: GatewayProcess, key: str) -> None:
    event = [interaction("s-keys")]
    assert gateway.post("/v1/events", event, None).status_code == 401
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert gateway.post("/v1/events", event, wrong).status_code == 401
    assert gateway.post("/v1/events", event, "not-a-key").status_code == 401
    other = gateway.add_key(AGENT)
    time.sleep(1.2)  # the gateway re-reads the key file at most once a second
    by_header = gateway.post("/v1/events", event, None, {"X-API-Key": other})
    assert by_header.status_code == 202, by_header.text
    key_id = other.split("_")[1]
    assert gateway.keys.revoke(key_id)
    time.sleep(1.2)
    assert gateway.post("/v1/events", event, other).status_code == 401
    assert other.split("_", 2)[2] not in gateway.keys.path.read_text()


def test_a_key_over_its_rate_gets_429_with_retry_after(gateway: GatewayProcess) -> None:
    # So slow a refill that the second post is over the limit however long the first took.
    slow = gateway.add_key(AGENT, rate_per_s=0.01, burst=5)
    time.sleep(1.2)
    batch = [interaction("s-rate", i) for i in range(4)]
    assert gateway.post("/v1/events", batch, slow).status_code == 202
    limited = gateway.post("/v1/events", batch, slow)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 200  # (4 - 1) events at 0.01 event/s


def test_a_client_that_sends_its_body_too_slowly_gets_408(
    gateway: GatewayProcess, key: str
) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 1000\r\n\r\n[{"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_client_that_never_finishes_its_headers_is_disconnected(gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        # Closed by the gateway after its keep-alive timeout (2 s here); a recv that timed
        # out instead (15 s) would raise.
        assert sock.recv(4096) == b""


def test_openapi_names_every_route_and_the_sdk_fields(gateway: GatewayProcess) -> None:
    import requests

    document = requests.get(f"{gateway.url}/openapi.json", timeout=10).json()
    assert {"/v1/events", "/v1/interactions", "/v1/feedback", "/v1/signals", "/v1/traces"} <= set(
        document["paths"]
    )
    fields = document["components"]["schemas"]["FeedbackFields"]["properties"]
    assert {"kind", "thumbs_up", "rating", "correction", "interaction_id"} <= set(fields)


def test_metrics_count_events_by_outcome(gateway: GatewayProcess, key: str) -> None:
    import requests

    batch = [interaction("s-metrics"), {"type": "signal", "session_id": "", "kind": "retried"}]
    assert gateway.post("/v1/events", batch, key).status_code == 400
    text = requests.get(f"{gateway.url}/metrics", timeout=10).text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['feedback_gateway_events_total{outcome="rejected"}'] >= 1
    assert samples['feedback_gateway_events_total{outcome="kafka"}'] >= 1
    assert samples["feedback_gateway_kafka_up"] == 1
    assert samples['feedback_gateway_requests_total{route="/v1/events",status="400"}'] >= 1


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_otlp_genai_spans_become_interactions_and_feedback(
    gateway: GatewayProcess, key: str, namespace: str, bootstrap_servers: str, encoding: str
) -> None:
    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    export = chat_export(conversation)
    if encoding == "protobuf":
        body, content_type = export.SerializeToString(), "application/x-protobuf"
    else:
        body, content_type = otlp_json(export), "application/json"
    answer = gateway.post("/v1/traces", body, key, {"Content-Type": content_type})
    assert answer.status_code == 200, answer.text
    if encoding == "protobuf":
        response = ExportTraceServiceResponse.FromString(answer.content)
        assert response.partial_success.rejected_spans == 0
    interactions = [
        r for r in read_topic(bootstrap_servers, INTERACTIONS.in_namespace(namespace).name)
        if r["session_id"] == conversation
    ]  # fmt: skip
    assert len(interactions) == 1
    turn = interactions[0]
    assert (turn["agent_id"], turn["model"]) == (AGENT, "acme-large")
    assert turn["prompt"] == "Where is my order?"
    assert turn["response"] == "It ships tomorrow."
    assert (turn["prompt_tokens"], turn["completion_tokens"]) == (12, 7)
    assert [t["name"] for t in turn["tools_used"]] == ["lookup_order"]
    feedback = [
        r for r in read_topic(bootstrap_servers, FEEDBACK.in_namespace(namespace).name)
        if r["session_id"] == conversation
    ]  # fmt: skip
    assert [(f["kind"], f["thumbs_up"], f["interaction_id"]) for f in feedback] == [
        ("thumbs", True, turn["event_id"])
    ]


def test_otlp_spans_that_break_the_contract_are_reported_not_stored(
    gateway: GatewayProcess, key: str
) -> None:
    export = chat_export(f"conv-{uuid.uuid4().hex[:8]}", input_tokens=-3)
    answer = gateway.post(
        "/v1/traces", export.SerializeToString(), key, {"Content-Type": "application/x-protobuf"}
    )
    assert answer.status_code == 200
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_spans == 1
    assert "prompt_tokens" in response.partial_success.error_message
    garbage = gateway.post(
        "/v1/traces", b"\x0a\xff\xff", key, {"Content-Type": "application/x-protobuf"}
    )
    assert garbage.status_code == 400


def test_without_kafka_events_are_spooled_then_503_once_the_spool_is_full(
    tmp_path_factory: pytest.TempPathFactory, namespace: str
) -> None:
    """A gateway whose Kafka never answers (nothing listens at its address): it acknowledges
    from the spool, durable on disk, until the spool is full, then answers 503 + Retry-After."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{sock.getsockname()[1]}"
    gateway = start_gateway(
        tmp_path_factory.mktemp("gateway-no-kafka"), nowhere, namespace,
        spool_max_bytes="6000", retry_after_s="7", ack_timeout_ms="3000",
    )  # fmt: skip
    try:
        import requests

        key = gateway.add_key(AGENT)
        assert requests.get(f"{gateway.url}/readyz", timeout=10).status_code == 503
        first = [interaction("s-spool", i) for i in range(3)]
        taken = gateway.post("/v1/events", first, key)
        assert taken.status_code == 202, taken.text
        assert {item["stored"] for item in taken.json()["accepted"]} == {"spool"}
        spooled = "".join(path.read_text() for path in gateway.spool_dir.glob("spool-*.jsonl"))
        assert spooled.count("\n") == 3
        more = [interaction("s-spool", 3 + i) for i in range(20)]
        full = gateway.post("/v1/events", more, key)
        assert full.status_code == 503 and full.headers["Retry-After"] == "7"
        body = full.json()
        assert body["unavailable"] and len(body["accepted"]) + len(body["unavailable"]) == 20
        assert {item["stored"] for item in body["accepted"]} <= {"spool"}
    finally:
        gateway.stop()
    # Stopped cleanly: the spool is kept for the next start, nothing acknowledged is gone.
    kept = "".join(path.read_text() for path in gateway.spool_dir.glob("spool-*.jsonl"))
    assert kept.count("\n") == 3 + len(body["accepted"])
