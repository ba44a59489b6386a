"""Kafka over SASL_SSL and Redis over TLS with AUTH, end to end, on real servers of the test's own.

The SDK sends a session over SASL_SSL (SCRAM-SHA-256); a worker (`python -m feedbackctl process`)
consumes it over SASL_SSL, keeps its tables in a TLS-only Redis that requires a password and a
client certificate (`rediss://` URL with the password in it), and produces enriched records,
read back over SASL_SSL. All of it configured through FEEDBACK_KAFKA_* and
FEEDBACK_PROCESSOR_REDIS_*, as a deployment would (docs/deploy.md, Security).
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from local_stack.topics import ensure_topics
from plumbing.kafka_security import kafka_client_config
from producers.client import FeedbackClient, ProducerTopics
from producers.settings import ProducerSettings
from schemas.serializer import serializer_for
from schemas.topics import ENRICHED, TOPICS
from tests.integration.secure_servers import (
    Certificates,
    TlsRedis,
    make_certificates,
    sasl_ssl_kafka,
    stop_process,
    tls_redis,
)
from tests.integration.test_processor_support import WORKER_ENV

ROOT = Path(__file__).resolve().parents[2]
KAFKA_USER, KAFKA_PASSWORD = "feedback-svc", "kafka-Secret-7f3a"
REDIS_PASSWORD = "redis-Secret-91c2"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory, certificates: Certificates) -> Iterator[str]:
    with sasl_ssl_kafka(
        tmp_path_factory.mktemp("kafka"), certificates, {KAFKA_USER: KAFKA_PASSWORD}
    ) as address:
        yield address


@pytest.fixture()
def secure_env(monkeypatch: pytest.MonkeyPatch, certificates: Certificates) -> dict[str, str]:
    """FEEDBACK_KAFKA_* for this process (SDK, test clients) and the worker's environment."""
    env = {
        "FEEDBACK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "FEEDBACK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "FEEDBACK_KAFKA_SASL_USERNAME": KAFKA_USER,
        "FEEDBACK_KAFKA_SASL_PASSWORD": KAFKA_PASSWORD,
        "FEEDBACK_KAFKA_SSL_CA_LOCATION": str(certificates.ca),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_a_wrong_kafka_password_or_plain_redis_is_refused(
    kafka: str, certificates: Certificates, tmp_path: Path
) -> None:
    """The servers really demand what the other test provides (else it could not fail)."""
    wrong = {
        "bootstrap.servers": kafka,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": KAFKA_USER,
        "sasl.password": "not-the-password",
        "ssl.ca.location": str(certificates.ca),
        "log_level": 0,
    }
    with pytest.raises(KafkaException):
        AdminClient(wrong).list_topics(timeout=5)
    with pytest.raises(KafkaException):
        AdminClient({"bootstrap.servers": kafka, "log_level": 0}).list_topics(timeout=5)
    with tls_redis(tmp_path / "redis", certificates, REDIS_PASSWORD) as server:
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=server.port, socket_timeout=2).ping()
        no_password = redis.Redis.from_url(
            f"rediss://127.0.0.1:{server.port}/0",
            ssl_ca_certs=str(certificates.ca),
            ssl_certfile=str(certificates.client_cert),
            ssl_keyfile=str(certificates.client_key),
        )
        with pytest.raises(redis.AuthenticationError):
            no_password.ping()


def test_the_worker_enriches_sdk_events_over_sasl_ssl_with_its_state_in_tls_redis(
    kafka: str,
    certificates: Certificates,
    secure_env: dict[str, str],
    tmp_path: Path,
) -> None:
    namespace = f"sec{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka, [spec.in_namespace(namespace) for spec in TOPICS])  # over SASL_SSL
    with tls_redis(tmp_path / "redis", certificates, REDIS_PASSWORD) as server:
        worker, log_path = _start_worker(
            kafka, server, certificates, secure_env, namespace, tmp_path
        )
        try:
            sent = _send_session(kafka, namespace, tmp_path)
            enriched = _read_enriched(kafka, namespace, expected=len(sent), worker=worker)
            assert {record["event_id"] for record in enriched} == set(sent)
            keys = _redis_keys(server, certificates, namespace)
            assert keys, "the worker kept no state in the TLS Redis"
        finally:
            stop_process(worker, timeout_s=30)
        log = log_path.read_text(errors="replace")
        assert KAFKA_PASSWORD not in log and REDIS_PASSWORD not in log


def _start_worker(
    kafka: str,
    server: TlsRedis,
    certificates: Certificates,
    secure_env: dict[str, str],
    namespace: str,
    tmp_path: Path,
) -> tuple[subprocess.Popen[bytes], Path]:
    env = {
        **os.environ,
        **WORKER_ENV,
        **secure_env,
        "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": kafka,
        # The password in the URL, as hosted Redis services hand it out; settings move it out.
        "FEEDBACK_PROCESSOR_REDIS_URL": f"rediss://:{server.password}@127.0.0.1:{server.port}/0",
        "FEEDBACK_PROCESSOR_REDIS_SSL_CA_CERTS": str(certificates.ca),
        "FEEDBACK_PROCESSOR_REDIS_SSL_CERTFILE": str(certificates.client_cert),
        "FEEDBACK_PROCESSOR_REDIS_SSL_KEYFILE": str(certificates.client_key),
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "feedbackctl", "process", "--namespace", namespace,
             "--loglevel", "info"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return worker, log_path


def _send_session(kafka: str, namespace: str, tmp_path: Path) -> list[str]:
    """Two turns and a terminal signal through the SDK (FEEDBACK_KAFKA_* from the environment);
    the interactions' event ids."""
    settings = ProducerSettings(
        bootstrap_servers=kafka,
        spool_dir=tmp_path / "spool",
        failure_policy="raise",
        replay_spool_on_start=False,
        linger_ms=5,
    )
    session = f"s-{uuid.uuid4().hex[:12]}"
    now_ms = int(time.time() * 1000)
    with FeedbackClient(
        settings, topics=ProducerTopics.in_namespace(namespace), registry=CollectorRegistry()
    ) as client:
        sent = [
            client.log_interaction(
                session_id=session,
                turn_index=turn,
                agent_id="secure-bot",
                agent_version="1.0.0",
                model="m",
                prompt=f"question {turn}",
                response=f"answer {turn}",
                latency_ms=100,
                event_time=now_ms + turn * 1000,
            )
            for turn in range(2)
        ]
        client.log_signal(session_id=session, kind="task_completed", event_time=now_ms + 2500)
        assert client.flush(30) == 0
        assert client.stats().delivered == 3
    return sent


def _read_enriched(
    kafka: str, namespace: str, expected: int, worker: subprocess.Popen[bytes]
) -> list[dict]:
    topic = ENRICHED.in_namespace(namespace).name
    serializer = serializer_for(ENRICHED)
    consumer = Consumer(
        kafka_client_config(
            kafka, {"group.id": f"reader-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"}
        )
    )
    records: list[dict] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 120
        while len(records) < expected:
            assert worker.poll() is None, f"the worker exited with {worker.returncode}"
            assert time.monotonic() < deadline, f"{len(records)} of {expected} enriched records"
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                records.append(serializer.decode(message.value()))
    finally:
        consumer.close()
    return records


def _redis_keys(server: TlsRedis, certificates: Certificates, namespace: str) -> list[bytes]:
    client = redis.Redis(
        port=server.port,
        password=server.password,
        ssl=True,
        ssl_ca_certs=str(certificates.ca),
        ssl_certfile=str(certificates.client_cert),
        ssl_keyfile=str(certificates.client_key),
    )
    try:
        return list(client.scan_iter(f"fp:*{namespace}*", count=1000))
    finally:
        client.close()
