"""`MetricsFollower` against the real broker: final metric windows on a metrics topic become an
alert on the alerts topic; a restarted follower rebuilds its state from the topic and publishes
nothing twice; undecodable records are reported and skipped, running updates ignored."""

from collections.abc import Callable

from confluent_kafka import Producer

from curation.monitoring.alerts import AlertPublisher, read_alerts
from curation.monitoring.follow import MetricsFollower
from curation.monitoring.live_rules import LiveRules
from schemas.serializer import serializer_for
from schemas.topics import ALERTS, METRICS, TopicSpec
from tests.unit.curation.monitoring.test_live import window

RULES = LiveRules(
    completion_maturity_s=120,
    thumbs_maturity_s=120,
    corrections_maturity_s=120,
    live_reference_s=1200,
    reference_gap_s=120,
    min_reference_trials=100,
)


def _metric_record(index: int, **counts: int) -> dict:
    """A complete QualityMetric record around the counts the monitor reads."""
    base = window(index, **counts)
    sessions, interactions = base["sessions"], base["interactions"]
    thumbs = base["thumbs_up"] + base["thumbs_down"]
    return {
        **base,
        "update_seq": 2**31 - 1,
        "sessions_failed": 0,
        "sessions_abandoned": sessions - base["sessions_completed"],
        "sessions_escalated": 0,
        "completion_rate": base["sessions_completed"] / sessions,
        "abandonment_rate": 1 - base["sessions_completed"] / sessions,
        "failure_rate": 0.0,
        "thumbs_up_rate": base["thumbs_up"] / thumbs,
        "correction_rate": base["corrections"] / interactions,
        "interactions_with_feedback": 10,
        "feedback_coverage": 10 / interactions,
        "latency_p50_ms": 800.0,
        "latency_p95_ms": 1900.0,
        "tool_calls": 0,
        "tool_errors": 0,
        "tool_error_rate": 0.0,
        "cost_usd": 0.5,
    }


def _produce(bootstrap: str, topic: TopicSpec, records: list[dict], garbage: int = 0) -> None:
    serializer = serializer_for(METRICS)
    producer = Producer({"bootstrap.servers": bootstrap})
    for _ in range(garbage):
        producer.produce(topic.name, b"not avro", b"bot/1.0")
    for record in records:
        producer.produce(topic.name, serializer.encode(record), b"bot/1.0")
    assert producer.flush(30) == 0


def test_final_windows_become_one_alert_and_a_restart_repeats_nothing(
    bootstrap_servers: str, unique_topics: Callable[..., TopicSpec]
) -> None:
    metrics, alerts = unique_topics(METRICS), unique_topics(ALERTS)
    records = [_metric_record(i) for i in range(20)]
    records += [_metric_record(i, completed=30) for i in range(20, 26)]
    running = {**_metric_record(26, completed=0), "is_final": False, "update_seq": 1}
    _produce(bootstrap_servers, metrics, [*records, running], garbage=2)

    def follow() -> MetricsFollower:
        follower = MetricsFollower(
            bootstrap_servers, RULES, metrics, AlertPublisher(bootstrap_servers, alerts)
        )
        follower.run(max_seconds=8)
        return follower

    first = follow()
    assert first.stats.undecodable == 2
    assert first.stats.final_windows == 26  # the running update is not a final window
    assert first.stats.alerts_published == 1
    published = read_alerts(bootstrap_servers, alerts)
    assert [(a["agent_version"], a["metric"]) for a in published] == [
        ("1.0", "live_completion_rate")
    ]
    assert published[0]["evidence"]["current_trials"] >= RULES.min_current_trials

    again = follow()  # a restart: same state rebuilt from the topic, nothing published twice
    assert again.stats.alerts_known == 1 and again.stats.alerts_published == 0
    assert len(read_alerts(bootstrap_servers, alerts)) == 1
