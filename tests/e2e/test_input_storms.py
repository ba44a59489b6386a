"""Reliability scenarios 6 and 7: a storm of bad input, a storm of duplicates.

Bad records must all become dead letters with their reason while every good event comes out as
if they were not there; events sent two or more times must change no output.
"""

import random
from collections.abc import Callable
from dataclasses import replace

import pytest

from producers.bad_records import BAD_RECORD_KINDS, make_bad_record
from tests.e2e.pipeline_harness import LakeSnapshot, Pipeline, Produced, scenario_traffic
from tests.e2e.pipeline_harness.reconcile import (
    check_dead_letters,
    check_enriched,
    check_metrics,
    check_raw_events,
)
from tests.e2e.pipeline_harness.scenario import run_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# The generator's random oversized records (1 in 8 bad records) are 1 MiB; one extra record is
# 10 MiB, below the private broker's message.max.bytes (16 MiB). Both are far above the
# processor's FEEDBACK_PROCESSOR_MAX_VALUE_BYTES (512 KiB), so both must be dead letters.
OVERSIZED_BYTES = 1024 * 1024
TEN_MIB = 10 * 1024 * 1024


def test_bad_input_storm_becomes_dead_letters_and_good_events_are_unaffected(
    pipeline: Pipeline,
) -> None:
    config = scenario_traffic(
        250,
        seed=106,
        bad_record_share=0.05,
        bad_record_kinds=tuple(BAD_RECORD_KINDS),
        oversized_bytes=OVERSIZED_BYTES,
        too_late_share=0.05,
    )
    huge = make_bad_record(random.Random(106), "oversized", TEN_MIB)
    assert len(huge[2]) > TEN_MIB
    result = run_scenario(pipeline, config, rate=400.0, extra_bad=[huge])
    truth = result.produced.truth
    kinds = {reason for _, reason in truth.bad_records}
    assert {"undecodable", "unknown_fingerprint", "wrong_schema", "schema_invalid"} <= kinds
    assert {"missing_key", "oversized"} <= kinds, "the storm must hold every kind of bad record"
    assert truth.too_late_feedback, "the storm must hold feedback sent after the grace period"
    bad_share = result.produced.bad_messages / result.produced.messages
    assert 0.03 < bad_share < 0.08, f"{bad_share:.1%} of the messages were bad, not ~5%"
    letters = [d for d in result.snapshot.dead_letters if d["reason"] == "oversized"]
    assert max(d["original_size"] for d in letters) > TEN_MIB
    assert all(len(d["original"]) < d["original_size"] for d in letters), "originals are bounded"
    _assert_reconciliation_detects_damage(result.snapshot, result.produced)


def test_duplicate_storm_changes_no_output(pipeline: Pipeline) -> None:
    """30% of the events are sent twice in a row by the generator, and the whole traffic is then
    sent a second time: every event reaches raw_events as often as it was sent, and every other
    output is exactly that of the traffic sent once."""
    config = scenario_traffic(200, seed=107, duplicate_share=0.3)
    result = run_scenario(pipeline, config, rate=600.0, repeat=2)
    sends = result.produced.sends_by_event_id
    assert min(sends.values()) >= 2 and max(sends.values()) >= 4
    assert result.produced.truth.duplicates > 0


def _assert_reconciliation_detects_damage(snapshot: LakeSnapshot, produced: Produced) -> None:
    """The reconciliation is only worth its pass if it fails on a damaged lake: one lost, doubled
    or altered row of each table must be reported by its check."""
    good = next(
        i for i, r in enumerate(snapshot.raw) if r["event_id"] in produced.sends_by_event_id
    )
    final = next(i for i, r in enumerate(snapshot.metrics) if r["is_final"])
    turn = snapshot.enriched[0]
    damages: dict[str, tuple[Callable[[LakeSnapshot, Produced], list[str]], LakeSnapshot]] = {
        "raw row lost": (check_raw_events, _without(snapshot, "raw", good)),
        "raw row doubled": (
            check_raw_events,
            replace(snapshot, raw=[*snapshot.raw, snapshot.raw[good]]),
        ),
        "outcome altered": (
            check_enriched,
            replace(
                snapshot,
                enriched=[
                    {**r, "session_outcome": "other"}
                    if r["session_id"] == turn["session_id"]
                    else r
                    for r in snapshot.enriched
                ],
            ),
        ),
        "enriched key repeated with other content": (
            check_enriched,
            replace(snapshot, enriched=[*snapshot.enriched, {**turn, "reward": -42.0}]),
        ),
        "final metric altered": (
            check_metrics,
            replace(
                snapshot,
                metrics=[
                    {**r, "interactions": r["interactions"] + 1} if i == final else r
                    for i, r in enumerate(snapshot.metrics)
                ],
            ),
        ),
        "dead letter lost": (check_dead_letters, _without(snapshot, "dead_letters", 0)),
    }
    for damage, (check, damaged) in damages.items():
        assert check(damaged, produced), f"the reconciliation did not notice: {damage}"


def _without(snapshot: LakeSnapshot, table: str, index: int) -> LakeSnapshot:
    rows = list(getattr(snapshot, table))
    del rows[index]
    return replace(snapshot, **{table: rows})
