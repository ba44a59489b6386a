"""The worker forgets what an erasure covers: sessions, their persisted entries, later events.

The join runs in process (`Driver`); the ledger is a real Delta table on disk where one is read.
End to end (a running worker, Redis, Kafka, `lake erase`): tests/integration/
test_processor_erasure.py.
"""

import asyncio
import datetime as dt
import json
import logging
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
from tests.unit.stream_processors.conftest import EventFactory
from tests.unit.stream_processors.test_partition import Driver, _PersistedState

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
    """u-42: a session closed and in its grace period, and one open (begun after the lake was
    read, so the ledger does not name it) with a thumbs staged; u-420: a session holding u-42's
    thumbs and comment, a group chat with u-42, and `s-joined`, where u-42's rating is staged;
    and the ledger's other two."""
    names = ("s-42-a", "s-42-b", "s-420", "s-chat", "s-anon", "s-signals", "s-joined")
    sessions = {name: EventFactory(name) for name in names}
    a, b, own, chat, anon, signals, joined = sessions.values()

    def turn(factory: EventFactory, at_s: float, index: int, user: str) -> dict[str, Any]:
        return factory.interaction(at_s, index, user_id=user, prompt=f"from {user}: q{index}")

    a0, a1 = turn(a, 0, 0, ERASED), turn(a, 5, 1, ERASED)
    drive.ingest(a0, a1, a.signal(6, "task_completed"))
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
    drive.until(20)  # s-42-a closed, the others open
    b0 = turn(b, 30, 0, ERASED)
    drive.ingest(b0, b.feedback(31, interaction_id=b0["record"]["event_id"], thumbs_up=False))
    drive.ingest(joined.feedback(31, "rating", rating=2, rater_id=ERASED))
    drive.until(30)  # b's turn applied, its thumbs and the rating in s-joined still staged
    return sessions


def test_an_erasure_forgets_its_sessions_and_their_entries_and_keeps_the_others() -> None:
    drive = Driver()
    _traffic(drive)
    store = _PersistedState()
    store.write(drive.processor.dirty_state())
    assert _mentions_erased(store.sessions) and _mentions_erased(store.entries)
    before = {k: v for k, v in store.entries.items() if k[0] == "s-420"}

    erasures = _erasures(*LEDGER_SESSIONS)
    gone, changed = drive.processor.erase(erasures.covers_session, erasures.covers_rater)
    store.write(drive.processor.dirty_state())

    assert sorted(gone) == ["s-42-a", "s-42-b", "s-anon", "s-chat", "s-signals"]
    assert changed == 2  # u-42's feedback left s-420 and s-joined
    assert set(store.sessions) == {"s-420", "s-joined"}
    assert {session_id for session_id, _ in store.entries} == {"s-420", "s-joined"}
    assert not _mentions_erased(store.sessions) and not _mentions_erased(store.entries)
    assert {k: v for k, v in store.entries.items() if k[0] == "s-420"} == before
    assert [f["rater_id"] for f in store.sessions["s-420"]["feedback"]] == [REVIEWER]
    # Nothing more of them is emitted, after a restart from the persisted state too, and the
    # restarted worker forgets nothing more (what it keeps does not depend on restarts).
    drive.processor = store.restore(drive.now)
    assert drive.processor.erase(erasures.covers_session, erasures.covers_rater) == ([], 0)
    assert set(drive.processor.sessions) == {"s-420", "s-joined"}
    out = drive.until(3_600)
    assert {r["session_id"] for r in out.enriched} == {"s-420", "s-joined"}
    assert all(f["rater_id"] == REVIEWER for r in out.enriched for f in r["feedback"])
    assert any(r["feedback"] for r in out.enriched)
    assert not _mentions_erased([out.enriched, out.inferred_signals, out.too_late])


def test_an_erasure_of_nobody_here_forgets_nothing() -> None:
    drive = Driver()
    _traffic(drive)
    store = _PersistedState()
    store.write(drive.processor.dirty_state())
    erasures = _erasures("s-9", user="u-4")
    assert drive.processor.erase(erasures.covers_session, erasures.covers_rater) == ([], 0)
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
