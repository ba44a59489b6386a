"""The sink's Prometheus series (served at /metrics when FEEDBACK_SINK_METRICS_PORT is set)."""

from prometheus_client import REGISTRY, CollectorRegistry

from plumbing.observability import counter, gauge, histogram

__all__ = ["SinkTelemetry"]


class SinkTelemetry:
    """Messages in, rows committed, commits and conflicts, dead letters, offsets, flush time,
    rows per commit and consumer lag (docs/observability.md lists every series)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.messages_in = counter(
            "sink", "messages_in", "Kafka messages taken into a batch, by topic.", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.skipped = counter(
            "sink", "messages_skipped",
            "Messages skipped because the lake already holds their offset, by topic.", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.rows_committed = counter(
            "sink", "committed", "Rows committed to Delta, by table.", ["table"], unit="rows",
            registry=registry,
        )  # fmt: skip
        self.commits = counter(
            "sink", "commits", "Delta commits, by table.", ["table"], registry=registry
        )
        self.conflicts = counter(
            "sink", "commit_conflicts",
            "Commits retried after a concurrent commit (CommitFailedError), by table.", ["table"],
            registry=registry,
        )  # fmt: skip
        self.erased_rows = counter(
            "sink", "erased",
            "Rows not written because an erasure in the ledger covers them, by table.",
            ["table"], unit="rows", registry=registry,
        )  # fmt: skip
        self.dead_letters = counter(
            "sink", "dead_letters", "Records the sink turned into dead letters, by reason.",
            ["reason"], registry=registry,
        )  # fmt: skip
        self.committed_offset = gauge(
            "sink", "committed_offset",
            "Last Kafka offset committed to the lake, by topic and partition.",
            ["topic", "partition"], registry=registry,
        )  # fmt: skip
        self.flush_duration = histogram(
            "sink", "flush_duration", "Time to commit one micro-batch to every table.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=registry,
        )  # fmt: skip
        self.last_commit = gauge(
            "sink", "last_commit_timestamp", "Unix time of the last successful flush.",
            unit="seconds", registry=registry,
        )  # fmt: skip
        self.batch_rows = histogram(
            "sink", "batch", "Rows in one Delta commit, by table.", ["table"], unit="rows",
            buckets=(1, 10, 100, 1000, 5000, 10000, 50000, 100000, 500000), registry=registry,
        )  # fmt: skip
        self.consumer_lag = gauge(
            "sink", "consumer_lag",
            "Messages not yet taken (high watermark - next offset), by topic and partition.",
            ["topic", "partition"], unit="messages", registry=registry,
        )  # fmt: skip
