"""Reconciliation: what the lake holds against what was produced and what the generator intended.

Shared by every scenario. Each `check_*` returns the discrepancies it found, as sentences that
say what differed; `reconcile` runs them all and fails with every discrepancy at once. The
checks (docs/reliability.md):

1. raw_events: one row per message of the input topics (Kafka coordinates unique and gap-free, to
   the topics' end): each good event as many times as it was sent, each bad record, and the
   processor's inferred `abandoned` signal of every abandoned session (it publishes them to the
   signals topic; a processor crash may publish one twice, at-least-once, same event_id).
2. enriched_interactions: repeated rows of one natural key (event_id, revision) are identical;
   the latest revision of every turn the generator made is there with its session's outcome.
3. quality_metrics: one final record per (agent, version, window); its counters equal those
   recomputed from the lake (enriched turns, raw feedback), except that a late contribution may
   be counted in a later window (the processor's documented rule), and, summed per agent, the
   truth's.
4. dead_letters: per reason, exactly the injected bad records (and too-late feedback); each
   points at a raw message that was not a good event; the sink made none of its own.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from schemas.serializer import serializer_for
from schemas.topics import FEEDBACK, INPUT_TOPICS
from sinks.lake import Lake
from stream_processors.metrics import OUTCOME_FIELDS
from stream_processors.sessions import abandoned_signal_id
from tests.e2e.pipeline_harness.workload import WINDOW_MS, Produced

__all__ = [
    "LakeSnapshot",
    "check_dead_letters",
    "check_enriched",
    "check_metrics",
    "check_raw_events",
    "compare_windows",
    "reconcile",
]

Coordinates = tuple[str, int, int]
WindowKey = tuple[str, str, int]
_LINEAGE = ("kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp")
_RAW_COLUMNS = ["kafka_topic", "kafka_partition", "kafka_offset", "event_id", "decode_error"]
_METRIC_COUNTERS = (
    "interactions",
    "sessions",
    *OUTCOME_FIELDS.values(),
    "thumbs_up",
    "thumbs_down",
    "tool_calls",
    "tool_errors",
)


@dataclass
class LakeSnapshot:
    """The four tables of one namespace, read once at the end of a scenario."""

    raw: list[dict[str, Any]]
    feedback_values: list[bytes]  # raw values of the feedback topic's decodable rows
    enriched: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    input_ends: dict[tuple[str, int], int]

    @classmethod
    def read(
        cls, lake: Lake, namespace: str, end_offsets: dict[tuple[str, int], int]
    ) -> "LakeSnapshot":
        def rows(name: str, columns: list[str] | None = None, filters: Any = None) -> list[dict]:
            if not lake.exists(name):
                return []
            table: pa.Table = lake.open(name).to_pyarrow_table(columns=columns, filters=filters)
            return _epoch_ms(table).to_pylist()

        feedback_topic = FEEDBACK.in_namespace(namespace).name
        feedback = (
            lake.open("raw_events").to_pyarrow_table(
                columns=["value"],
                filters=(pc.field("kafka_topic") == feedback_topic)
                & pc.field("decode_error").is_null(),
            )
            if lake.exists("raw_events")
            else pa.table({"value": pa.array([], pa.binary())})
        )
        inputs = {spec.in_namespace(namespace).name for spec in INPUT_TOPICS}
        return cls(
            raw=rows("raw_events", _RAW_COLUMNS),
            feedback_values=feedback.column("value").to_pylist(),
            enriched=rows("enriched_interactions"),
            metrics=rows("quality_metrics"),
            dead_letters=rows("dead_letters"),
            input_ends={key: end for key, end in end_offsets.items() if key[0] in inputs},
        )


def check_raw_events(snapshot: LakeSnapshot, produced: Produced) -> list[str]:
    problems: list[str] = []
    coordinates = Counter(
        (r["kafka_topic"], r["kafka_partition"], r["kafka_offset"]) for r in snapshot.raw
    )
    repeated = [c for c, n in coordinates.items() if n > 1]
    if repeated:
        problems.append(
            f"raw_events: {len(repeated)} Kafka offsets written twice, e.g. {repeated[:3]}"
        )
    expected = {
        (topic, partition, offset)
        for (topic, partition), end in snapshot.input_ends.items()
        for offset in range(end)
    }
    missing, extra = expected - set(coordinates), set(coordinates) - expected
    if missing or extra:
        problems.append(
            f"raw_events: {len(missing)} offsets of the input topics missing "
            f"(e.g. {sorted(missing)[:3]}), {len(extra)} unexpected (e.g. {sorted(extra)[:3]})"
        )
    inferred = {
        abandoned_signal_id(s.session_id, s.closed_at_ms)
        for s in produced.truth.sessions.values()
        if s.outcome == "abandoned"
    }
    inferred_rows = Counter(r["event_id"] for r in snapshot.raw if r["event_id"] in inferred)
    if set(inferred_rows) != inferred:
        problems.append(
            f"raw_events: {len(inferred - set(inferred_rows))} of the {len(inferred)} inferred "
            "`abandoned` signals (the processor's own, read back from the signals topic) missing"
        )
    if len(expected) != produced.messages + inferred_rows.total():
        problems.append(
            f"input topics hold {len(expected)} messages; {produced.messages} were produced "
            f"({sum(produced.sends_by_event_id.values())} good sends, {produced.bad_messages} "
            f"bad) and the processor added {inferred_rows.total()} inferred signals"
        )
    sends = produced.sends_by_event_id
    seen = Counter(r["event_id"] for r in snapshot.raw if r["event_id"] in sends)
    replayed = sum(stats.replayed for stats in produced.stats)
    wrong = {
        event_id: (seen.get(event_id, 0), count)
        for event_id, count in sends.items()
        if not count <= seen.get(event_id, 0) <= count + replayed
    }
    if wrong:
        sample = dict(list(wrong.items())[:3])
        problems.append(
            f"raw_events: {len(wrong)} good events not there as often as sent "
            f"(event_id: (rows, sends)), e.g. {sample}"
        )
    return problems


def latest_revisions(enriched: Iterable[dict[str, Any]]) -> tuple[dict[str, dict], list[str]]:
    """The highest revision of every turn, and the natural keys repeated with other content."""
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    conflicts: list[str] = []
    for row in enriched:
        record = {k: v for k, v in row.items() if k not in _LINEAGE}
        key = (row["event_id"], row["revision"])
        if by_key.setdefault(key, record) != record:
            conflicts.append(f"{key}")
    latest: dict[str, dict[str, Any]] = {}
    for (event_id, revision), record in by_key.items():
        if event_id not in latest or revision > latest[event_id]["revision"]:
            latest[event_id] = record
    return latest, conflicts


def check_enriched(snapshot: LakeSnapshot, produced: Produced) -> list[str]:
    problems: list[str] = []
    latest, conflicts = latest_revisions(snapshot.enriched)
    if conflicts:
        problems.append(
            f"enriched_interactions: {len(conflicts)} (event_id, revision) keys repeated with "
            f"different content, e.g. {conflicts[:3]}"
        )
    turns = {t.event_id: s for s in produced.truth.sessions.values() for t in s.turns}
    missing, extra = set(turns) - set(latest), set(latest) - set(turns)
    if missing or extra:
        problems.append(
            f"enriched_interactions: {len(missing)} generated turns missing "
            f"(e.g. {sorted(missing)[:3]}), {len(extra)} turns nobody generated"
        )
    wrong = [
        (turns[e].session_id, turns[e].outcome, r["session_outcome"])
        for e, r in latest.items()
        if e in turns and r["session_outcome"] != turns[e].outcome
    ]
    if wrong:
        problems.append(
            f"enriched_interactions: {len(wrong)} turns with another outcome than the generator "
            f"intended (session, intended, got), e.g. {wrong[:3]}"
        )
    sessions = {r["session_id"] for r in latest.values()}
    if sessions != set(produced.truth.sessions):
        problems.append(
            f"enriched_interactions: {len(set(produced.truth.sessions) - sessions)} sessions "
            "missing"
        )
    return problems


def final_metrics(metrics: Iterable[dict[str, Any]]) -> tuple[dict[WindowKey, dict], list[str]]:
    """The final record of each window, and the windows with differing final records."""
    finals: dict[WindowKey, dict[str, Any]] = {}
    conflicts: list[str] = []
    for row in metrics:
        if not row["is_final"]:
            continue
        record = {k: v for k, v in row.items() if k not in _LINEAGE}
        key = (row["agent_id"], row["agent_version"], row["window_start"])
        if finals.setdefault(key, record) != record:
            conflicts.append(str(key))
    return finals, conflicts


def recompute_metrics(snapshot: LakeSnapshot, too_late: set[str]) -> dict[WindowKey, Counter[str]]:
    """Counters of every window from the lake alone, by the processor's documented attribution:
    a turn in the window of its event_time, a session's outcome in the window of its close
    time, a feedback in the window of its own event_time."""
    latest, _ = latest_revisions(snapshot.enriched)
    counts: dict[WindowKey, Counter[str]] = defaultdict(Counter)
    agent_of: dict[str, tuple[str, str]] = {}
    closed: dict[str, tuple[int, str]] = {}
    for turn in latest.values():
        agent = (turn["agent_id"], turn["agent_version"])
        agent_of[turn["session_id"]] = agent
        window = counts[(*agent, _window(turn["event_time"]))]
        window["interactions"] += 1
        tools = turn["tools_used"] or []
        window["tool_calls"] += len(tools)
        window["tool_errors"] += sum(1 for t in tools if t["status"] in ("error", "timeout"))
        closed[turn["session_id"]] = (turn["session_closed_at"], turn["session_outcome"])
    for session_id, (closed_at, outcome) in closed.items():
        window = counts[(*agent_of[session_id], _window(closed_at))]
        window["sessions"] += 1
        if outcome in OUTCOME_FIELDS:
            window[OUTCOME_FIELDS[outcome]] += 1
    decode = serializer_for(FEEDBACK).decode
    seen: set[str] = set()
    for value in snapshot.feedback_values:
        try:
            feedback = decode(value)
        except Exception:
            continue  # a bad record that decodes far enough for raw_events, not fully
        event_id = feedback["event_id"]
        if event_id in seen or event_id in too_late or feedback["session_id"] not in agent_of:
            continue
        seen.add(event_id)
        if feedback["kind"] == "thumbs" and feedback["thumbs_up"] is not None:
            window = counts[(*agent_of[feedback["session_id"]], _window(feedback["event_time"]))]
            window["thumbs_up" if feedback["thumbs_up"] else "thumbs_down"] += 1
    return counts


def check_metrics(snapshot: LakeSnapshot, produced: Produced) -> list[str]:
    problems: list[str] = []
    finals, conflicts = final_metrics(snapshot.metrics)
    if conflicts:
        problems.append(f"quality_metrics: windows with two different finals: {conflicts[:3]}")
    if not finals:
        return [*problems, "quality_metrics: no final record at all"]
    recomputed = recompute_metrics(snapshot, produced.truth.too_late_feedback)
    published = {key: Counter({c: r[c] for c in _METRIC_COUNTERS}) for key, r in finals.items()}
    problems += compare_windows(published, recomputed)
    truth = produced.truth
    outcomes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    thumbs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (agent_id, version, _), record in finals.items():
        for outcome, column in OUTCOME_FIELDS.items():
            outcomes[(agent_id, version)][outcome] += record[column]
        thumbs[(agent_id, version)][0] += record["thumbs_up"]
        thumbs[(agent_id, version)][1] += record["thumbs_down"]
    expected_outcomes = {agent: Counter(c) for agent, c in truth.outcome_counts().items()}
    if {a: +c for a, c in outcomes.items() if +c} != expected_outcomes:
        problems.append(
            f"quality_metrics: sessions by outcome {dict(outcomes)} != truth {expected_outcomes}"
        )
    got_thumbs = {a: tuple(c) for a, c in thumbs.items() if c != [0, 0]}
    if got_thumbs != truth.thumbs_counts():
        problems.append(
            f"quality_metrics: thumbs (up, down) {got_thumbs} != truth {truth.thumbs_counts()}"
        )
    interactions = sum(record["interactions"] for record in finals.values())
    if interactions != truth.interaction_count():
        problems.append(
            f"quality_metrics: {interactions} interactions != truth {truth.interaction_count()}"
        )
    return problems


def compare_windows(
    published: dict[WindowKey, Counter[str]], recomputed: dict[WindowKey, Counter[str]]
) -> list[str]:
    """Published final counters against the lake's recount, window by window.

    The processor counts a contribution whose window was already final (for its partition or
    globally) in the earliest window still open (docs/processor.md), so a count may move to a
    *later* window, never to an earlier one, and none may be lost or added: per agent and
    counter, the running sum over windows in time order of the published counts never exceeds
    the recount's, and the totals are equal.
    """
    problems: list[str] = []
    agents = {(agent_id, version) for agent_id, version, _ in {*published, *recomputed}}
    for agent in sorted(agents):
        starts = sorted({w for a, v, w in {*published, *recomputed} if (a, v) == agent})
        for counter in _METRIC_COUNTERS:
            ahead, total_published, total_recounted = None, 0, 0
            for start in starts:
                total_published += published.get((*agent, start), Counter())[counter]
                total_recounted += recomputed.get((*agent, start), Counter())[counter]
                if total_published > total_recounted and ahead is None:
                    ahead = start
            if ahead is not None:
                problems.append(
                    f"quality_metrics: {agent} {counter}: by window {ahead} the finals count "
                    "more than the lake holds up to that window (counted too early)"
                )
            if total_published != total_recounted:
                problems.append(
                    f"quality_metrics: {agent} {counter}: finals sum to {total_published}, "
                    f"the lake's recount to {total_recounted}"
                )
    return problems


def check_dead_letters(snapshot: LakeSnapshot, produced: Produced) -> list[str]:
    problems: list[str] = []
    letters: dict[tuple[Coordinates, str], dict[str, Any]] = {}
    for row in snapshot.dead_letters:
        source = (row["source_topic"], row["source_partition"], row["source_offset"])
        letters.setdefault((source, row["detected_by"]), row)
    made_by_sink = [key for key in letters if key[1] != "processor"]
    if made_by_sink:
        problems.append(
            f"dead_letters: {len(made_by_sink)} made by the sink, e.g. {made_by_sink[:3]}"
        )
    reasons = Counter(row["reason"] for (_, by), row in letters.items() if by == "processor")
    expected = produced.expected_dead_letters()
    if reasons != expected:
        problems.append(f"dead_letters by reason {dict(reasons)} != injected {dict(expected)}")
    good = {
        (r["kafka_topic"], r["kafka_partition"], r["kafka_offset"])
        for r in snapshot.raw
        if r["event_id"] in produced.sends_by_event_id
    }
    hit = [
        (source, row["reason"])
        for (source, _), row in letters.items()
        if source in good and row["reason"] != "too_late"
    ]
    if hit:
        problems.append(f"dead_letters: {len(hit)} good events dead-lettered, e.g. {hit[:3]}")
    return problems


def reconcile(snapshot: LakeSnapshot, produced: Produced) -> None:
    """Every check; fails listing every discrepancy found."""
    problems = [
        *check_raw_events(snapshot, produced),
        *check_enriched(snapshot, produced),
        *check_metrics(snapshot, produced),
        *check_dead_letters(snapshot, produced),
    ]
    assert not problems, (
        "reconciliation failed:\n- "
        + "\n- ".join(problems)
        + f"\nproducer SDK stats: {produced.stats}"
    )


def _window(event_time_ms: int) -> int:
    return event_time_ms - event_time_ms % WINDOW_MS


def _epoch_ms(table: pa.Table) -> pa.Table:
    """Timestamp columns as epoch milliseconds (int), like the pipeline's records."""
    for index, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            as_ms = pc.cast(table.column(index), pa.timestamp("ms", tz="UTC"))
            table = table.set_column(index, column.name, pc.cast(as_ms, pa.int64()))
    return table
