"""Continuous curation: build a new dataset version when a rule holds, and say so.

Every poll, when the enriched table has a new Delta version, the watch builds the dataset of
that version (`curate_sft` / `curate_preferences`, the same functions as `feedbackctl curate`)
and counts each agent's rows. For every agent whose rule holds (at least N rows more than its
last published dataset, or T seconds since then and some new rows) it publishes a DatasetReady
record to the datasets topic, and POSTs it to the webhook if one is set; when no rule holds the
build is removed. What was published is kept in a state file beside the datasets, so a restarted
watch neither repeats nor forgets a record.
"""

import json
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from curation.dataset_ready import dataset_ready_record, rows_by_agent
from curation.exceptions import LakeTableMissingError
from curation.options import CurationOptions
from curation.pipeline import CurationResult, curate_preferences, curate_sft, default_output_dir
from curation.source import open_table
from curation.watch_settings import WatchSettings
from plumbing.observability import counter, gauge

__all__ = ["AgentMark", "CurationWatch", "RecordSink", "WatchState", "records_as_json"]

log = logging.getLogger(__name__)

_POLLED = gauge(
    "curation", "watch_last_poll", "When the watch last checked the lake.", unit="seconds"
)
_PUBLISHED = counter(
    "curation", "datasets_published", "DatasetReady records published.", labels=["kind"]
)
_FAILED = counter("curation", "watch_failed_polls", "Polls that failed (retried next time).")


class RecordSink(Protocol):
    """Where DatasetReady records go (the topic publisher; the webhook)."""

    def publish(self, records: list[dict[str, Any]], timeout_s: float = ...) -> int: ...


@dataclass
class AgentMark:
    """An agent's last published dataset: its rows and when."""

    rows: int = 0
    published_at: float | None = None  # never: the interval rule holds at once


@dataclass
class WatchState:
    """What the watch has seen and published; saved as JSON after every change."""

    checked_version: int | None = None
    published_version: int | None = None
    agents: dict[str, AgentMark] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "WatchState":
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        agents = {name: AgentMark(**mark) for name, mark in data.get("agents", {}).items()}
        return cls(data.get("checked_version"), data.get("published_version"), agents)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2))
        temporary.replace(path)


class CurationWatch:
    """The watch loop: `poll_once` is one check (and build, and publish), `run` loops it."""

    def __init__(
        self,
        settings: WatchSettings,
        options: CurationOptions,
        sinks: list[RecordSink],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.options = options
        self.sinks = sinks
        self.clock = clock
        self.root = Path(settings.output_root)
        self.state_path = self.root / f".watch-{settings.kind}.json"
        self.state = WatchState.load(self.state_path)

    def lake_version(self) -> int | None:
        """The enriched table's latest version; None while the sink has not created it."""
        try:
            return open_table(self.settings.lake_uri, self.settings.lake_prefix).version()
        except LakeTableMissingError:
            return None

    def poll_once(self) -> list[dict[str, Any]]:
        """Build and publish if the lake moved and a rule holds; the records published."""
        version = self.lake_version()
        now = self.clock()
        if version is None or version == self.state.checked_version:
            return []
        result = self._build(version)
        per_agent = rows_by_agent(result.manifest, self.settings.kind)
        records = []
        for agent_id, rows in sorted(per_agent.items()):
            if self.settings.agents and agent_id not in self.settings.agents:
                continue
            mark = self.state.agents.get(agent_id, AgentMark())
            since = math.inf if mark.published_at is None else now - mark.published_at
            trigger = self._trigger(rows - mark.rows, since)
            if trigger is not None:
                records.append(
                    dataset_ready_record(
                        result,
                        kind=self.settings.kind,
                        agent_id=agent_id,
                        trigger=trigger,
                        new_rows=rows - mark.rows,
                        created_at_ms=int(now * 1000),
                    )
                )
        self.state.checked_version = version
        if not records:
            if version != self.state.published_version:
                shutil.rmtree(result.output_dir)
            self.state.save(self.state_path)
            return []
        for sink in self.sinks:
            sink.publish(records)
        self.state.published_version = version
        for record in records:
            self.state.agents[record["agent_id"]] = AgentMark(per_agent[record["agent_id"]], now)
        self.state.save(self.state_path)
        log.info("dataset %s published for %d agent(s)", result.output_dir, len(records))
        return records

    def run(self, stop: threading.Event) -> None:
        """Poll every `poll_seconds` until `stop` is set; a failed poll is logged and retried."""
        while not stop.is_set():
            try:
                _PUBLISHED.labels(self.settings.kind).inc(len(self.poll_once()))
                _POLLED.set(self.clock())
            except Exception:
                _FAILED.inc()
                log.exception(
                    "curation watch poll failed; retrying in %ss", self.settings.poll_seconds
                )
            stop.wait(self.settings.poll_seconds)

    def _trigger(self, new_rows: int, since_s: float) -> str | None:
        rule = self.settings
        if new_rows <= 0:
            return None
        if rule.every_examples is not None and new_rows >= rule.every_examples:
            return "new_examples"
        if rule.every_seconds is not None and since_s >= rule.every_seconds:
            return "interval"
        return None

    def _build(self, version: int) -> CurationResult:
        directory = default_output_dir(
            self.root, self.settings.kind, version, self.settings.lake_prefix
        )
        if directory.exists() and version != self.state.published_version:
            # An unpublished build of this version (a crash before its record): rebuild it.
            shutil.rmtree(directory)
        build = curate_sft if self.settings.kind == "sft" else curate_preferences
        return build(
            self.settings.lake_uri,
            self.options,
            output_dir=directory,
            output_root=self.root,
            prefix=self.settings.lake_prefix,
            version=version,
        )


def records_as_json(records: Sequence[Mapping[str, Any]]) -> str:
    """One JSON line per record (the CLI prints them)."""
    return "\n".join(json.dumps(record, separators=(",", ":")) for record in records)
