"""Every long-running process answers /metrics over HTTP with its named series, and they move.

One namespace: a processor worker and a sink run as `feedbackctl` subprocesses with their
metrics ports set; generator traffic goes in through the producer SDK (whose registry is served
by `start_metrics_server` here), plus one undecodable record on an input topic (a processor dead
letter) and one on the enriched topic (a sink dead letter). docs/observability.md lists the
series.
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from plumbing.observability import COMPONENTS, start_metrics_server
from producers import FeedbackClient
from producers.client import ProducerTopics
from producers.settings import ProducerSettings
from producers.traffic import generate_traffic
from schemas.topics import DEADLETTER, ENRICHED, FEEDBACK, INPUT_TOPICS, INTERACTIONS, SIGNALS
from tests.integration.test_processor_support import (
    ROOT,
    WORKER_ENV,
    Namespace,
    namespace_for,
    traffic_config,
)
from tests.ports import free_port
from tests.unit.plumbing.test_observability import listening_addresses

GARBAGE = b"this is not an Avro single-object encoding"
UNDECODABLE = "undecodable"  # schemas.exceptions: bytes without the single-object marker


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def scrape(url: str) -> list[Sample]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return [
        Sample(sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


# The sample names Prometheus derives from a family of each type.
_SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


def exposed_names(url: str) -> set[str]:
    """Every family an endpoint declares (HELP/TYPE) and the sample names it stands for
    (`x` and `x_total`, `x_bucket`...): a labelled counter nothing has incremented yet, such as
    a dead-letter reason that did not occur, is declared but has no sample."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SAMPLE_SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def series(samples: list[Sample], name: str) -> list[Sample]:
    return [s for s in samples if s.name == name]


class Service:
    """A `feedbackctl` sub-command in a subprocess, its log in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "feedbackctl", *args],
            cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self._log.close()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@dataclass
class Stack:
    namespace: Namespace
    processor_url: str
    sink_url: str
    producer_url: str
    dashboard_url: str
    gateway_url: str
    monitor_url: str
    sent: Counter[str]  # topic -> events sent through the SDK
    produced: Counter[str]  # topic -> every message produced (SDK and garbage)
    services: list[Service]


def wait_for(
    check: Callable[[], bool], timeout_s: float, what: str, services: list[Service]
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:  # the endpoint is not up yet
            pass
        for service in services:
            if service.process.poll() is not None:
                pytest.fail(f"{what}: a service exited:\n{service.log_tail()}")
        time.sleep(0.5)
    logs = "\n---\n".join(service.log_tail() for service in services)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}\n{logs}")


@pytest.fixture(scope="module")
def stack(
    bootstrap_servers: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("prometheus")
    with namespace_for(bootstrap_servers, redis_url) as namespace:
        processor_port, sink_port, dashboard_port = free_port(), free_port(), free_port()
        gateway_port, monitor_port = free_port(), free_port()
        processor = Service(
            ["process", "--namespace", namespace.name, "--loglevel", "warning"],
            {
                **WORKER_ENV,
                "FEEDBACK_PROCESSOR_BOOTSTRAP_SERVERS": bootstrap_servers,
                "FEEDBACK_PROCESSOR_REDIS_URL": redis_url,
                "FEEDBACK_PROCESSOR_METRICS_PORT": str(processor_port),
            },
            tmp / "processor.log",
        )
        services = [processor]
        try:
            sink = Service(
                ["sink", "--namespace", namespace.name, "--log-level", "WARNING"],
                {
                    "FEEDBACK_SINK_BOOTSTRAP_SERVERS": bootstrap_servers,
                    "FEEDBACK_SINK_LAKE_URI": str(tmp / "lake"),
                    "FEEDBACK_SINK_METRICS_PORT": str(sink_port),
                    "FEEDBACK_SINK_FLUSH_LATENCY_S": "1",
                },
                tmp / "sink.log",
            )
            services.append(sink)
            dashboard = Service(
                ["dashboard", "--namespace", namespace.name, "--port", str(dashboard_port)],
                {"FEEDBACK_DASHBOARD_BOOTSTRAP_SERVERS": bootstrap_servers},
                tmp / "dashboard.log",
            )
            services.append(dashboard)
            gateway = Service(
                ["gateway", "--port", str(gateway_port), "--namespace", namespace.name,
                 "--keys-file", str(tmp / "gateway-keys"), "--spool-dir", str(tmp / "gw-spool")],
                {"FEEDBACK_GATEWAY_BOOTSTRAP_SERVERS": bootstrap_servers},
                tmp / "gateway.log",
            )  # fmt: skip
            services.append(gateway)
            monitor = Service(
                ["monitor", "follow", "--namespace", namespace.name],
                {
                    "FEEDBACK_MONITOR_BOOTSTRAP_SERVERS": bootstrap_servers,
                    "FEEDBACK_MONITOR_METRICS_PORT": str(monitor_port),
                },
                tmp / "monitor.log",
            )
            services.append(monitor)
            registry = CollectorRegistry()
            producer_server = start_metrics_server(0, "127.0.0.1", registry, any_port=True)
            assert producer_server is not None
            try:
                sent, produced = _produce(namespace, registry, tmp)
                yield Stack(
                    namespace,
                    f"http://127.0.0.1:{processor_port}/metrics",
                    f"http://127.0.0.1:{sink_port}/metrics",
                    producer_server.url,
                    f"http://127.0.0.1:{dashboard_port}/metrics",
                    f"http://127.0.0.1:{gateway_port}/metrics",
                    f"http://127.0.0.1:{monitor_port}/metrics",
                    sent,
                    produced,
                    services,
                )
            finally:
                producer_server.close()
        finally:
            for service in services:
                service.stop()


def _produce(
    namespace: Namespace, registry: CollectorRegistry, tmp: Path
) -> tuple[Counter[str], Counter[str]]:
    """Generator traffic through the SDK (its counters in `registry`), then one garbage record
    on an input topic and one on the enriched topic; returns what the SDK sent and what went
    in altogether, by topic."""
    settings = ProducerSettings(
        bootstrap_servers=namespace.bootstrap,
        topic_namespace=namespace.name,
        spool_dir=tmp / "spool",
        replay_spool_on_start=False,
        linger_ms=5,
    )
    sent: Counter[str] = Counter()
    with FeedbackClient(settings, registry=registry) as client:
        topics = ProducerTopics.in_namespace(namespace.name)
        by_name = {
            INTERACTIONS.name: topics.interactions,
            FEEDBACK.name: topics.feedback,
            SIGNALS.name: topics.signals,
        }
        traffic = generate_traffic(traffic_config(sessions=12, seed=5, bad_record_share=0.0))
        for event in traffic.events():
            if event.record is None:
                continue
            topic = by_name[event.topic.name]
            client.send(topic, event.record)
            sent[topic.name] += 1
        assert client.flush(30) == 0
        client.stats()  # publishes the counters to the registry
    produced = Counter(sent)
    garbage = Producer({"bootstrap.servers": namespace.bootstrap})
    for topic in (namespace.topic(INTERACTIONS), namespace.topic(ENRICHED)):
        garbage.produce(topic, GARBAGE, b"garbage-session")
        produced[topic] += 1
    assert garbage.flush(30) == 0
    return sent, produced


def _input_topics(stack: Stack) -> dict[str, str]:
    """Input topic name -> kind (interactions, feedback, signals) in the test's namespace."""
    return {
        spec.in_namespace(stack.namespace.name).name: spec.value_record for spec in INPUT_TOPICS
    }


def _took_every_input(samples: list[Sample], stack: Stack, name: str) -> bool:
    """`name` (by topic) counts every message produced to the inputs. The signals topic also
    carries the `abandoned` signals the processor infers, hence at least, not exactly."""
    for topic in _input_topics(stack):
        seen = total(samples, name, topic=topic)
        if topic == stack.namespace.topic(SIGNALS):
            if seen < stack.produced[topic]:
                return False
        elif seen != stack.produced[topic]:
            return False
    return True


def _lags(samples: list[Sample], name: str, topics: set[str]) -> list[Sample]:
    return [s for s in series(samples, name) if s.labels["topic"] in topics]


def test_processor_endpoint_serves_moving_series(stack: Stack) -> None:
    inputs = set(_input_topics(stack))
    assert sum(stack.produced[topic] for topic in inputs) > 10
    lag = "feedback_processor_consumer_lag_messages"

    def caught_up() -> bool:
        samples = scrape(stack.processor_url)
        lags = _lags(samples, lag, inputs)
        return (
            _took_every_input(samples, stack, "feedback_processor_events_in_total")
            and bool(lags)
            and all(s.value == 0 for s in lags)
        )

    wait_for(caught_up, 120, "the processor to take every input event", stack.services)
    samples = scrape(stack.processor_url)
    events_in = total(samples, "feedback_processor_events_in_total")
    assert total(samples, "feedback_processor_dead_letters_total", reason=UNDECODABLE) == 1
    deadletter_topic = stack.namespace.topic(DEADLETTER)
    assert total(samples, "feedback_processor_outputs_total", topic=deadletter_topic) >= 1
    assert total(samples, "feedback_processor_partitions_owned") == INPUT_TOPICS[0].partitions
    degraded = {
        s.labels["dependency"]: s.value for s in series(samples, "feedback_processor_degraded")
    }
    assert degraded == {"redis": 0.0, "kafka": 0.0}  # a healthy worker, both series there
    assert total(samples, "feedback_processor_step_duration_seconds_count") > 0
    # Every input event was in one take() batch (batches also hold skipped redeliveries).
    assert total(samples, "feedback_processor_batch_records_sum") >= events_in
    assert total(samples, "feedback_processor_batch_records_count") > 0
    lag_keys = {(s.labels["topic"], s.labels["partition"]) for s in _lags(samples, lag, inputs)}
    assert lag_keys == {
        (topic, str(p)) for topic in inputs for p in range(INPUT_TOPICS[0].partitions)
    }
    watermarks = series(samples, "feedback_processor_watermark_timestamp_seconds")
    # Unix seconds (2001..2286), not milliseconds: the generator's event times are recent.
    assert watermarks and all(1e9 < s.value < 1e10 for s in watermarks if s.value)
    assert any(s.value > 0 for s in watermarks)
    # Loading partitions (SCAN/HSCAN) and checkpointing (WATCH, MGET, MULTI/EXEC) hit Redis.
    # A checkpoint follows the events it covers within `checkpoint_interval_s` (0.5 s).
    rounds = "feedback_processor_redis_round_trips_total"

    def checkpointed() -> bool:
        return total(scrape(stack.processor_url), rounds, operation="WATCH") > 0

    wait_for(checkpointed, 10, "a checkpoint (WATCH on Redis)", stack.services)
    samples = scrape(stack.processor_url)
    for operation in ("SCAN", "WATCH", "MULTI/EXEC"):
        assert total(samples, rounds, operation=operation) > 0, operation


def test_sink_endpoint_serves_moving_series(stack: Stack) -> None:
    inputs = set(_input_topics(stack))
    enriched = stack.namespace.topic(ENRICHED)
    lag = "feedback_sink_consumer_lag_messages"

    def committed() -> bool:
        samples = scrape(stack.sink_url)
        lags = _lags(samples, lag, inputs)
        taken = sum(total(samples, "feedback_sink_messages_in_total", topic=t) for t in inputs)
        rows = total(samples, "feedback_sink_committed_rows_total", table="raw_events")
        return (
            _took_every_input(samples, stack, "feedback_sink_messages_in_total")
            and rows == taken
            and total(samples, "feedback_sink_batch_rows_sum", table="raw_events") == rows
            and total(samples, "feedback_sink_dead_letters_total", reason=UNDECODABLE) >= 1
            and bool(lags)
            and all(s.value == 0 for s in lags)
        )

    wait_for(committed, 120, "the sink to commit every input event", stack.services)
    samples = scrape(stack.sink_url)
    assert total(samples, "feedback_sink_messages_in_total", topic=enriched) >= 1
    assert total(samples, "feedback_sink_committed_rows_total", table="dead_letters") >= 1
    commits = total(samples, "feedback_sink_commits_total", table="raw_events")
    assert commits > 0
    assert total(samples, "feedback_sink_batch_rows_count", table="raw_events") <= commits
    assert total(samples, "feedback_sink_flush_duration_seconds_count") > 0
    assert total(samples, "feedback_sink_last_commit_timestamp_seconds") > time.time() - 600
    offsets = series(samples, "feedback_sink_committed_offset")
    assert {s.labels["topic"] for s in offsets} >= inputs
    assert series(samples, "feedback_sink_commit_conflicts_total")  # zero, but exposed


def test_worker_and_sink_endpoints_listen_on_loopback_only(stack: Stack) -> None:
    """No *_METRICS_HOST is set: the real processes bind 127.0.0.1, not every interface."""
    for url in (stack.processor_url, stack.sink_url):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert listening_addresses(port) == {"127.0.0.1"}, url


def test_producer_sdk_series_count_what_was_sent(stack: Stack) -> None:
    samples = scrape(stack.producer_url)
    assert sum(stack.sent.values()) > 10
    for topic, count in stack.sent.items():
        assert total(samples, "feedback_producer_events_total", topic=topic, outcome="sent") == (
            count
        )
        assert (
            total(samples, "feedback_producer_events_total", topic=topic, outcome="delivered")
            == count
        )
    assert total(samples, "feedback_producer_events_total", outcome="failed") == 0
    assert series(samples, "feedback_producer_queue_full_waits_total")


DOCS = ROOT / "docs"
# A series name in the docs: feedback_<component>_<what>..., the component a known one (the
# gateway names its series itself).
_COMPONENT = "|".join((*COMPONENTS, "gateway"))
SERIES_IN_DOCS = re.compile(rf"\bfeedback_(?:{_COMPONENT})_[a-z0-9_]*[a-z0-9]\b")


def _names_in_docs() -> dict[str, list[str]]:
    """Series name -> the docs pages naming it."""
    found: dict[str, list[str]] = {}
    for page in sorted(DOCS.glob("*.md")):
        for name in SERIES_IN_DOCS.findall(page.read_text()):
            found.setdefault(name, []).append(page.name)
    return found


def _answers(url: str) -> Callable[[], bool]:
    return lambda: bool(scrape(url))


def test_every_series_named_in_docs_exists(stack: Stack) -> None:
    """Each `feedback_<component>_...` name in docs/ is served by a real process's /metrics
    (as a family name, e.g. a counter without `_total`, or as a sample name)."""
    urls = {
        "processor": stack.processor_url,
        "sink": stack.sink_url,
        "producer": stack.producer_url,
        "dashboard": stack.dashboard_url,
        "gateway": stack.gateway_url,
        "monitor": stack.monitor_url,
    }
    for url in urls.values():
        wait_for(_answers(url), 90, f"{url} to answer", stack.services)
    served = {component: exposed_names(url) for component, url in urls.items()}
    named = _names_in_docs()
    assert "feedback_sink_flush_duration_seconds" in named  # the scan finds real names
    missing = []
    for name, pages in sorted(named.items()):
        component = name.split("_")[1]
        where = ", ".join(sorted(set(pages)))
        if component not in served:
            missing.append(f"{name} ({where}; no {component} process is scraped by this test)")
        elif name not in served[component]:
            missing.append(f"{name} ({where})")
    assert not missing, "series named in docs but served by no process: " + "; ".join(missing)


def test_dashboard_metrics_honour_the_openmetrics_accept_header(stack: Stack) -> None:
    wait_for(
        lambda: bool(scrape(stack.dashboard_url)), 60, "the dashboard's /metrics", stack.services
    )
    request = urllib.request.Request(
        stack.dashboard_url,
        headers={"Accept": "application/openmetrics-text; version=1.0.0; charset=utf-8"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        content_type = response.headers["Content-Type"]
        body = response.read().decode()
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

    families = {family.name for family in parse_om(body)}
    assert "feedback_dashboard_event_time_horizon_timestamp_seconds" in families
    with urllib.request.urlopen(stack.dashboard_url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
