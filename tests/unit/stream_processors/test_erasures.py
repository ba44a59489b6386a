"""The worker forgets what an erasure covers: sessions, their persisted entries, later events.

The join runs in process (`Driver`); the ledger is a real Delta table on disk where one is read.
End to end (a running worker, Redis, Kafka, `lake erase`): tests/integration/
test_processor_erasure.py.
"""

import asyncio
import datetime as dt
import json
import logging
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from schemas.erasure_ledger import (
    ERASURES_SCHEMA,
    ErasedIdentities,
    LedgerEntry,
    LedgerFollower,
    salted_sha256,
)
from stream_processors.erasures import ProcessorErasures
from tests.unit.stream_processors.conftest import EventFactory, reference_config
from tests.unit.stream_processors.test_partition import CONFIG, Driver, _PersistedState
from verification.comparison import compare_enriched
from verification.reference import expected_results

SALT = "pepper"
ERASED, NEIGHBOUR, REVIEWER = "u-42", "u-420", "r-7"


def _erasures(*sessions: str, user: str = ERASED) -> ProcessorErasures:
    """Erasures of `user` whose ledger names `sessions` (as `lake erase` found them)."""
    follower = LedgerFollower("unused")
    follower.identities = ErasedIdentities(
        (
            LedgerEntry(
                "e-1",
                SALT,
                salted_sha256(SALT, user),
                frozenset(salted_sha256(SALT, s) for s in sessions),
            ),
        )
    )
    return ProcessorErasures(follower, interval_s=10.0)


def _mentions_erased(value: Any) -> bool:
    """Whether persisted state holds the erased user's id, sessions or text."""
    if isinstance(value, dict):
        value = [[key, item] for key, item in value.items()]  # keys may be tuples
    text = json.dumps(value, default=repr)
    return any(marker in text for marker in ('"u-42"', "s-42-", "from u-42:"))


# The sessions an erasure of u-42 found in the lake (`_erasures`): its first one; a session
# with turns naming nobody and one with signals only (they go with u-42, as in the lake); and
# u-420's session that u-42 had joined, whose turns of u-42 are gone (a replay skips them).
LEDGER_SESSIONS = ("s-42-a", "s-anon", "s-signals", "s-joined")


def _traffic(drive: Driver) -> dict[str, EventFactory]:
    """u-42: a session completed and resumed (its first use in its grace period), and one
    open (begun after the lake was read, so the ledger does not name it) with a thumbs staged;
    u-420: a session holding u-42's thumbs and comment, a group chat with u-42, and `s-joined`,
    where u-42's rating is staged; the ledger's other two; and a kiosk's session id, used by
    u-420, then by u-42."""
    names = ("s-42-a", "s-42-b", "s-420", "s-chat", "s-anon", "s-signals", "s-joined", "s-kiosk")
    sessions = {name: EventFactory(name) for name in names}
    a, b, own, chat, anon, signals, joined, kiosk = sessions.values()

    def turn(factory: EventFactory, at_s: float, index: int, user: str) -> dict[str, Any]:
        return factory.interaction(at_s, index, user_id=user, prompt=f"from {user}: q{index}")

    a0, a1 = turn(a, 0, 0, ERASED), turn(a, 5, 1, ERASED)
    # Completed, then resumed: the first use is kept, in a row of its own, for its grace period.
    drive.ingest(a0, a1, a.signal(6, "task_completed"), turn(a, 8, 2, ERASED))
    n0 = turn(own, 1, 0, NEIGHBOUR)
    drive.ingest(
        n0,
        own.feedback(2, interaction_id=n0["record"]["event_id"], thumbs_up=True, rater_id=ERASED),
        own.feedback(2, "comment", comment="from u-42: nice", rater_id=ERASED),
        own.feedback(3, interaction_id=n0["record"]["event_id"], thumbs_up=True, rater_id=REVIEWER),
    )
    drive.ingest(turn(chat, 1, 0, NEIGHBOUR), turn(chat, 3, 1, ERASED))
    drive.ingest(anon.interaction(1, 0, prompt="from u-42: anonymous"))
    drive.ingest(signals.signal(2, "retried"), turn(joined, 2, 0, NEIGHBOUR))
    # A kiosk's session id: u-420's task completed, then u-42's, both closed.
    drive.ingest(turn(kiosk, 0, 0, NEIGHBOUR), kiosk.signal(1, "task_completed"))
    drive.ingest(turn(kiosk, 3, 0, ERASED), kiosk.signal(4, "task_completed"))
    drive.until(20)  # s-42-a closed, the others open
    b0 = turn(b, 30, 0, ERASED)
    drive.ingest(b0, b.feedback(31, interaction_id=b0["record"]["event_id"], thumbs_up=False))
    drive.ingest(joined.feedback(31, "rating", rating=2, rater_id=ERASED))
    drive.until(30)  # b's turn applied, its thumbs and the rating in s-joined still staged
    return sessions


def test_an_erasure_forgets_its_sessions_and_their_entries_and_keeps_the_others() -> None:
    drive = Driver()
    sessions = _traffic(drive)
    store = _PersistedState()
    store.write(drive.processor.dirty_state())
    assert _mentions_erased(store.sessions) and _mentions_erased(store.entries)
    before = {k: v for k, v in store.entries.items() if k[0] == "s-420"}

    erasures = _erasures(*LEDGER_SESSIONS)
    gone, changed = drive.processor.erase(erasures.covers_record)
    store.write(drive.processor.dirty_state())

    assert sorted(gone) == ["s-42-a", "s-42-b", "s-anon", "s-signals"]
    # u-42's feedback left s-420 and s-joined; u-42's turn the group chat, u-42's use the kiosk.
    assert changed == 4
    kept = {"s-420", "s-joined", "s-chat", "s-kiosk"}
    assert {key.split("\x1f")[0] for key in store.sessions} == kept  # earlier uses' rows too
    assert {session_id for session_id, _ in store.entries} == kept
    assert not _mentions_erased(store.sessions) and not _mentions_erased(store.entries)
    assert {k: v for k, v in store.entries.items() if k[0] == "s-420"} == before
    assert [f["rater_id"] for f in store.sessions["s-420"]["feedback"]] == [REVIEWER]
    # Nothing more of them is emitted, after a restart from the persisted state too, and the
    # restarted worker forgets nothing more (what it keeps does not depend on restarts).
    drive.processor = store.restore(drive.now)
    assert drive.processor.erase(erasures.covers_record) == ([], 0)
    assert set(drive.processor.sessions) == kept
    # The kiosk's use by u-420 is still in its grace period: a reviewer's thumbs revises it.
    kiosk = sessions["s-kiosk"]
    (kiosk_turn,) = [e for e in store.entries.values() if e["record"]["session_id"] == "s-kiosk"]
    turn_id = kiosk_turn["record"]["event_id"]
    drive.ingest(kiosk.feedback(40, interaction_id=turn_id, thumbs_up=True, rater_id=REVIEWER))
    out = drive.until(3_600)
    assert {r["session_id"] for r in out.enriched} == kept
    (revised,) = [r for r in out.enriched if r["session_id"] == "s-kiosk"]
    assert (revised["event_id"], revised["revision"], revised["session_turns"]) == (turn_id, 1, 1)
    # The group chat: u-420's turn alone, enriched at the close its own activity gives.
    (chat,) = [r for r in out.enriched if r["session_id"] == "s-chat"]
    assert (chat["user_id"], chat["session_turns"]) == (NEIGHBOUR, 1)
    assert chat["session_closed_at"] == chat["event_time"] + CONFIG.abandon_after_ms
    assert all(f["rater_id"] == REVIEWER for r in out.enriched for f in r["feedback"])
    assert any(r["feedback"] for r in out.enriched)
    assert not _mentions_erased([out.enriched, out.inferred_signals, out.too_late])


ROUTER, SPECIALIST = ("bot", "1.0"), ("billing", "3.0")


@pytest.mark.parametrize("order", [0, 1, 2], ids=lambda seed: f"order-{seed}")
@pytest.mark.parametrize("erase_at", [0.5, 7, 12, 20], ids=lambda at: f"erased-at-{at}s")
@pytest.mark.parametrize("named", [True, False], ids=["ledger-names-it", "begun-after-the-lake"])
def test_an_open_group_chat_keeps_the_other_users_turns_as_a_replay_would(
    named: bool, erase_at: float, order: int
) -> None:
    """u-42 and u-420 in one open session; u-42 is erased while it is open, with some of its
    events applied and the others staged, having arrived in any order. u-420's turns are
    enriched at its close, equal to the batch reference's on the events that are left: the
    session's own events, less those the erasure covers (dropped on arrival from then on).
    When the ledger names the session (the lake held u-42's turn), what names nobody in it goes
    too; when it does not (u-42's turn came after the lake was read), only u-42's events go.
    The outcome counts for the first turn left (u-420's agent), not for u-42's."""
    chat = EventFactory("s-group")
    erasures = _erasures(*(["s-group"] if named else []))

    def turn(at_s: float, user: str, agent: tuple[str, str]) -> dict[str, Any]:
        return chat.interaction(
            at_s, 0, user_id=user, prompt=f"from {user}", agent_id=agent[0], agent_version=agent[1]
        )

    erased_first, kept_first = turn(0, ERASED, ROUTER), turn(5, NEIGHBOUR, SPECIALIST)
    erased_second, kept_second = turn(10, ERASED, ROUTER), turn(15, NEIGHBOUR, SPECIALIST)
    before = [
        erased_first,
        kept_first,
        erased_second,
        chat.signal(11, "retried", erased_second["record"]["event_id"]),
        kept_second,
        chat.feedback(16, interaction_id=kept_second["record"]["event_id"], thumbs_up=True,
                      rater_id=REVIEWER),
        chat.feedback(17, "rating", rating=4),  # on the session, by nobody named
        chat.feedback(18, "rating", rating=1, rater_id=ERASED),
    ]  # fmt: skip
    kept_third = turn(25, NEIGHBOUR, SPECIALIST)
    after = [
        kept_third,
        turn(26, ERASED, ROUTER),
        chat.feedback(28, interaction_id=kept_third["record"]["event_id"], thumbs_up=False,
                      rater_id=REVIEWER),
        chat.signal(30, "task_completed"),
    ]  # fmt: skip
    random.Random(order).shuffle(before)
    random.Random(order).shuffle(after)
    drive = Driver()
    drive.ingest(*before)
    drive.until(erase_at)
    assert not drive.outputs.enriched  # open
    gone, changed = drive.processor.erase(erasures.covers_record)
    assert (gone, changed) == ([], 1)
    drive.restart()  # from what the checkpoint wrote: nothing of u-42 comes back
    assert drive.processor.erase(erasures.covers_record) == ([], 0)
    arriving = [e for e in after if not erasures.covers_record(e["record"])]
    drive.ingest(*arriving)
    drive.until(3_600)

    left = [e for e in before if not erasures.covers_record(e["record"])] + arriving
    expected = expected_results(
        [{**e, "topic": e["kind"], "offset": i} for i, e in enumerate(left)],
        reference_config(CONFIG),
    )
    latest = {r["event_id"]: r for r in drive.outputs.enriched}
    assert [d.line() for d in compare_enriched(expected.turns, latest)] == []
    assert {r["user_id"] for r in latest.values()} == {NEIGHBOUR}
    assert len(latest) == 3
    outcome = "task_completed" if not named else "abandoned"
    assert {r["session_outcome"] for r in latest.values()} == {outcome.removeprefix("task_")}
    assert not _mentions_erased([drive.outputs.enriched, drive.outputs.inferred_signals])
    sessions = {
        key[:2]: partial.counts["sessions"] for key, partial in drive.processor.windows.items()
    }
    assert sessions.get(SPECIALIST) == 1 and not sessions.get(ROUTER)


def test_an_erasure_of_nobody_here_forgets_nothing() -> None:
    drive = Driver()
    _traffic(drive)
    store = _PersistedState()
    store.write(drive.processor.dirty_state())
    erasures = _erasures("s-9", user="u-4")
    assert drive.processor.erase(erasures.covers_record) == ([], 0)
    changes = drive.processor.dirty_state()
    assert not changes.deleted_sessions and not changes.released_entries


def test_which_arriving_events_an_erasure_covers() -> None:
    """The lake's rules (`ErasedIdentities.erasure_of`): a record naming the erased user; one
    naming nobody in a session the ledger names; feedback the user gave anywhere. Another
    user's record stays, even in the erased user's session."""
    erasures = _erasures("s-42-a")
    a, own, later = EventFactory("s-42-a"), EventFactory("s-420"), EventFactory("s-42-z")
    covered = [
        a.interaction(0, user_id=ERASED)["record"],
        later.interaction(0, user_id=ERASED)["record"],
        a.feedback(1, thumbs_up=True, rater_id=REVIEWER)["record"],
        a.signal(1, "task_completed")["record"],
        own.feedback(1, thumbs_up=True, rater_id=ERASED)["record"],
    ]
    kept = [
        a.interaction(0, user_id=NEIGHBOUR)["record"],
        own.interaction(0, user_id=NEIGHBOUR)["record"],
        own.feedback(1, thumbs_up=True, rater_id=NEIGHBOUR)["record"],
        own.signal(1, "task_completed")["record"],
        # A new session of the user is known by its turns only (documented in docs/lake.md).
        later.signal(1, "task_completed")["record"],
    ]
    assert [erasures.covers_record(r) for r in covered] == [True] * len(covered)
    assert [erasures.covers_record(r) for r in kept] == [False] * len(kept)
    assert erasures.covers_key(b"s-42-a")
    assert not any(erasures.covers_key(k) for k in (b"s-420", None, b"", b"\xff\xfe"))
    assert not ProcessorErasures(None, 10.0).covers_record(covered[0])


def _ledger_row(user: str, sessions: list[str]) -> dict[str, Any]:
    return {
        "erasure_id": f"e-{user}",
        "requested_at": dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
        "user_id_sha256": salted_sha256(SALT, user),
        "sessions": len(sessions),
        "table_name": "raw_events",
        "rows_deleted": 3,
        "selection": "test",
        "vacuumed_files": 0,
        "id_salt": SALT,
        "session_ids_sha256": [salted_sha256(SALT, s) for s in sessions],
    }


def test_the_worker_reads_new_erasures_from_the_ledger_and_survives_a_broken_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake = tmp_path / "lake"
    erasures = ProcessorErasures(LedgerFollower(str(lake), "ns-1/"), interval_s=0.0)
    record = EventFactory("s-42-a").interaction(0, user_id=ERASED)["record"]

    assert asyncio.run(erasures.poll()) is False  # no ledger yet
    assert not erasures.covers_record(record)
    rows = [_ledger_row(ERASED, ["s-42-a"])]
    write_deltalake(str(lake / "erasures"), pa.Table.from_pylist(rows, schema=ERASURES_SCHEMA))
    assert asyncio.run(erasures.poll()) is True
    assert erasures.covers_record(record)
    assert asyncio.run(erasures.poll()) is False  # nothing new

    # The namespace's own ledger binds it too.
    rows = [_ledger_row(NEIGHBOUR, ["s-420"])]
    ledger = lake / "ns-1" / "erasures"
    write_deltalake(str(ledger), pa.Table.from_pylist(rows, schema=ERASURES_SCHEMA))
    assert asyncio.run(erasures.poll()) is True
    assert erasures.covers_key(b"s-420") and erasures.covers_record(record)

    # A ledger that cannot be read keeps what was read before and is logged.
    (ledger / "_delta_log" / "00000000000000000001.json").write_text("not json\n")
    with caplog.at_level(logging.WARNING, logger="stream_processors.erasures"):
        assert asyncio.run(erasures.poll()) is False
    assert "unreadable" in caplog.text
    assert erasures.covers_key(b"s-420") and erasures.covers_record(record)


def test_the_ledger_is_looked_at_once_per_interval(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    erasures = ProcessorErasures(LedgerFollower(str(lake)), interval_s=3_600.0)
    assert asyncio.run(erasures.poll()) is False
    rows = [_ledger_row(ERASED, ["s-42-a"])]
    write_deltalake(str(lake / "erasures"), pa.Table.from_pylist(rows, schema=ERASURES_SCHEMA))
    assert asyncio.run(erasures.poll()) is False  # within the interval: not read
    assert not erasures.covers_key(b"s-42-a")
