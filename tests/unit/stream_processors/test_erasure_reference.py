"""An erasure while sessions are open gives what a replay gives: the batch reference's results on
the events that are left.

Random open sessions: turns of u-42, of other users and of nobody, feedback by nobody named, a
reviewer or u-42, on a turn or the session, stamped before or after its turn; retries; a
terminal signal after the erasure, or none (abandoned). Some of u-42's sessions are shared. The
worker reads the events up to the erasure (and some later ones early: staged), applies it
(`PartitionProcessor.erase`), perhaps restarts from what it persisted, then reads the rest less
what the erasure covers, as its intake drops them. The ledger names the sessions in which u-42's
turns came before the erasure, less some the sink had not written yet. Every turn's last
enriched record must equal the reference's on the events the erasure leaves.

Out of scope, by construction (docs/processor.md, "Erasure"): closes before the erasure (a
closed use holding u-42's turn goes whole; its outputs are out), and pauses longer than
`abandon_after` that u-42's turns bridged (turns here are at most 5 s apart). Every turn comes
before the erasure, so the interactions topic holds the watermark there: the later events never
arrive after the watermark passed them (the contract), and no other user's turn comes to a
session forgotten whole.
"""

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.erasure_ledger import ErasedIdentities, LedgerEntry, LedgerFollower, salted_sha256
from stream_processors.erasures import ProcessorErasures
from tests.unit.stream_processors.conftest import T0, EventFactory, reference_config
from tests.unit.stream_processors.test_partition import CONFIG, Driver
from verification.comparison import compare_enriched
from verification.reference import expected_results

ERASED, OTHERS, REVIEWER = "u-42", ("u-7", "u-8", None), "r-1"
SALT = "salt"
ERASE_AT_S = 30.0  # every turn is before it; terminal signals after it


def _session(rng: random.Random, index: int) -> list[dict[str, Any]]:
    events = EventFactory(f"s-{index}")
    shared = rng.random() < 0.5
    users = [ERASED, rng.choice(OTHERS)] if shared else [rng.choice([ERASED, *OTHERS])]
    at = rng.uniform(0, 5)
    entries: list[dict[str, Any]] = []
    for turn in range(rng.randint(1, 5)):
        entry = events.interaction(at, turn, user_id=rng.choice(users), prompt=f"q{turn}")
        entries.append(entry)
        turn_id = entry["record"]["event_id"]
        if rng.random() < 0.6:
            target = rng.choice([turn_id, turn_id, None])
            stamped = max(0.0, at + rng.choice([0.0, rng.uniform(-2, 4), rng.uniform(0, 40)]))
            rater = rng.choice([None, REVIEWER, ERASED])
            entries.append(
                events.feedback(stamped, interaction_id=target, thumbs_up=True, rater_id=rater)
            )
        if rng.random() < 0.2:
            entries.append(events.signal(at + 1, "retried", turn_id))
        at += rng.uniform(0, 5)
    if rng.random() < 0.6:
        entries.append(events.signal(ERASE_AT_S + rng.uniform(1, 20), "task_completed"))
    return entries


def _erasures(named: set[str]) -> ProcessorErasures:
    follower = LedgerFollower("unused")
    sessions = frozenset(salted_sha256(SALT, s) for s in named)
    follower.identities = ErasedIdentities(
        (LedgerEntry("e-1", SALT, salted_sha256(SALT, ERASED), sessions),)
    )
    return ProcessorErasures(follower, interval_s=10.0)


def _at_s(entry: dict[str, Any]) -> float:
    return float(entry["record"]["event_time"] - T0) / 1000


def _differences(seed: int) -> list[str]:
    rng = random.Random(seed)
    entries = [e for index in range(rng.randint(1, 8)) for e in _session(rng, index)]
    rng.shuffle(entries)  # arrival order, across sessions and topics
    before = [e for e in entries if _at_s(e) <= ERASE_AT_S]
    after = [e for e in entries if _at_s(e) > ERASE_AT_S]
    early = [e for e in after if rng.random() < 0.3]  # staged at the erasure
    later = [e for e in after if e not in early]
    in_lake = {
        e["record"]["session_id"]
        for e in before
        if e["kind"] == "interaction" and e["record"]["user_id"] == ERASED
    }
    erasures = _erasures({s for s in in_lake if rng.random() < 0.8})

    drive = Driver()
    drive.ingest(*before, *early)
    drive.until(ERASE_AT_S)
    assert not drive.outputs.enriched, "a session closed before the erasure: out of scope"
    drive.processor.erase(erasures.covers_record)
    if rng.random() < 0.5:
        drive.restart()
        drive.processor.erase(erasures.covers_record)  # as a worker loading the partition
    drive.ingest(*[e for e in later if not erasures.covers_record(e["record"])])
    drive.wait_for_late_sessions()  # restored waiting feedback is staged again, under the mark
    drive.until(3_600)

    left = [e for e in entries if not erasures.covers_record(e["record"])]
    expected = expected_results(
        [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(left)],
        reference_config(CONFIG),
    )
    latest = {r["event_id"]: r for r in drive.outputs.enriched}
    return [d.line() for d in compare_enriched(expected.turns, latest)]


def test_a_seed_with_shared_sessions_and_both_ledgers_gives_the_reference_results() -> None:
    assert _differences(7) == []


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_an_erasure_of_open_sessions_gives_the_reference_results(seed: int) -> None:
    assert _differences(seed) == [], f"seed {seed}"
