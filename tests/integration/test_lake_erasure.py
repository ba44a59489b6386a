"""Erasure is exact: `u-42` takes none of `u-420`'s rows, not even in a session both were in; an
unknown id and a dry run write nothing.

The lake is written by the real sink from the real Kafka, once per module, and copied for each
test. Rows are checked by reading the Parquet files on disk with pyarrow, not the project's
reader. Every byte-level trap of the old substring match is in the data: `u-420`'s records
contain the bytes `u-42`, undecodable bytes mention `u-42`, and ids like `9` occur everywhere.
"""

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from feedbackctl.main import app
from schemas import serializer_for
from schemas.erasure_ledger import ledger_paths, read_ledger, salted_sha256
from schemas.exceptions import ContractError
from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, RAW_EVENTS
from schemas.topics import DEADLETTER, ENRICHED, FEEDBACK, INTERACTIONS, METRICS, SIGNALS
from sinks import DeltaSink, SinkSettings
from tests.integration.test_sink_exactly_once import SINK_TOPICS, sink_topics
from tests.unit.sinks.events import (
    START_MS,
    OutgoingEvent,
    dead_letter,
    enriched,
    feedback,
    interaction,
    metric,
    produce,
    signal,
)

ERASED, NEIGHBOUR, NOBODY = "u-42", "u-420", "nobody"
TABLES = (RAW_EVENTS.name, ENRICHED_INTERACTIONS.name, DEAD_LETTERS.name)

encode = {spec.name: serializer_for(spec).encode for spec in SINK_TOPICS}


def _cut(data: bytes) -> bytes:
    """An interaction cut short after its identifiers (before the prompt): no full decode."""
    return data[: data.index(b"question")]


def lake_events() -> tuple[list[OutgoingEvent], dict[tuple[str, bytes | None, bytes], str]]:
    """The events, and each one's owner by (topic, key, value) as the test knows it."""
    owned: list[tuple[str, OutgoingEvent]] = []

    def add(owner: str, topic: Any, key: bytes | None, value: bytes) -> None:
        owned.append((owner, OutgoingEvent(topic, key, value)))

    for user in (ERASED, NEIGHBOUR):
        session = f"s-{user[2:]}-a"
        key = session.encode()
        for turn in range(2):
            record = interaction(session, turn, user, START_MS + turn * 1000)
            add(user, INTERACTIONS, key, encode[INTERACTIONS.name](record))
        add(user, FEEDBACK, key, encode[FEEDBACK.name](feedback(session, None, START_MS)))
        add(user, SIGNALS, key, encode[SIGNALS.name](signal(session, "task_completed", START_MS)))
        add(user, ENRICHED, key, encode[ENRICHED.name](enriched(session, 0, user, START_MS)))
        # The sink dead-letters it (undecodable); only its key says whose it is.
        add(user, ENRICHED, key, b"\xc3\x01truncated " + user.encode())
        # Undecodable raw bytes, keyed by the session.
        add(user, INTERACTIONS, key, b"\x00garbage of " + key)
        # A record of the wrong schema, no key: raw_events keeps it undecoded (null columns).
        add(user, INTERACTIONS, None, encode[FEEDBACK.name](feedback(session, None, START_MS)))
        # A session seen only in bytes: an interaction on the wrong topic, then its signal.
        hidden = f"s-{user[2:]}-d"
        record = interaction(hidden, 0, user, START_MS + 5000)
        add(user, SIGNALS, None, encode[INTERACTIONS.name](record))
        add(
            user,
            SIGNALS,
            hidden.encode(),
            encode[SIGNALS.name](signal(hidden, "task_completed", START_MS)),
        )
        # Processor dead letters: a full interaction of a session seen nowhere else, a cut one,
        # and a feedback of that session with no key.
        only_dead = f"s-{user[2:]}-c"
        full = encode[INTERACTIONS.name](interaction(only_dead, 0, user, START_MS))
        cut = _cut(encode[INTERACTIONS.name](interaction(f"s-{user[2:]}-e", 1, user, START_MS)))
        lost = encode[FEEDBACK.name](feedback(only_dead, None, START_MS))
        for i, (source, original) in enumerate(
            ((INTERACTIONS, full), (INTERACTIONS, cut), (FEEDBACK, lost))
        ):
            letter = {**dead_letter(source.name, i, original), "key": None}
            add(user, DEADLETTER, None, encode[DEADLETTER.name](letter))
    # A session both users were in (a group chat): each one's turns are their own; what names
    # nobody (its feedback, its signal) goes with either user, and so does an enriched turn of
    # u-420 that holds feedback (it may be u-42's thumbs); the same turn without feedback stays.
    group = "s-group"
    key = group.encode()
    for turn, user in enumerate((ERASED, NEIGHBOUR)):
        record = interaction(group, turn, user, START_MS + turn * 1000)
        add(user, INTERACTIONS, key, encode[INTERACTIONS.name](record))
    add(ERASED, FEEDBACK, key, encode[FEEDBACK.name](feedback(group, None, START_MS + 2000)))
    add(ERASED, SIGNALS, key, encode[SIGNALS.name](signal(group, "task_completed", START_MS)))
    add(ERASED, ENRICHED, key, encode[ENRICHED.name](enriched(group, 0, ERASED, START_MS)))
    quiet = {**enriched(group, 1, NEIGHBOUR, START_MS + 1000), "feedback": []}
    add(NEIGHBOUR, ENRICHED, key, encode[ENRICHED.name](quiet))
    rated = enriched(group, 2, NEIGHBOUR, START_MS + 2000)
    add(ERASED, ENRICHED, key, encode[ENRICHED.name](rated))
    refused = encode[INTERACTIONS.name](interaction(group, 3, NEIGHBOUR, START_MS + 3000))
    letter = {**dead_letter(INTERACTIONS.name, 50, refused), "key": key}
    add(NEIGHBOUR, DEADLETTER, None, encode[DEADLETTER.name](letter))
    # Feedback u-42 gave in u-420's session (a reviewer, a group member), with a comment, and
    # the enriched turn of u-420 that holds it: u-42's. u-420's own rating there stays.
    theirs = "s-420-a"
    given = {**feedback(theirs, None, START_MS + 4000), "rater_id": ERASED, "comment": "no"}
    add(ERASED, FEEDBACK, theirs.encode(), encode[FEEDBACK.name](given))
    own = {**feedback(theirs, None, START_MS + 4000), "rater_id": NEIGHBOUR}
    add(NEIGHBOUR, FEEDBACK, theirs.encode(), encode[FEEDBACK.name](own))
    # u-42's own thumbs in their own session, signed: found twice (session, rater), deleted once.
    signed = {**feedback("s-42-a", None, START_MS + 4000), "rater_id": ERASED}
    add(ERASED, FEEDBACK, b"s-42-a", encode[FEEDBACK.name](signed))
    holding = enriched(theirs, 3, NEIGHBOUR, START_MS + 3000)
    holding["feedback"] = [{**holding["feedback"][0], "rater_id": ERASED}]
    add(ERASED, ENRICHED, theirs.encode(), encode[ENRICHED.name](holding))
    # Nobody's: bytes that mention u-42 but are no message, and a metric.
    add(NOBODY, INTERACTIONS, None, b"\x00u-42 u-420 9")
    for i, original in enumerate((b"\xff", b"\xffu-42 9")):
        letter = {**dead_letter(INTERACTIONS.name, 90 + i, original), "key": None}
        add(NOBODY, DEADLETTER, None, encode[DEADLETTER.name](letter))
    a_metric = encode[METRICS.name](metric("1.0", START_MS, 9))
    add(NOBODY, METRICS, b"bot/1.0", a_metric)
    letter = {**dead_letter(METRICS.name, 99, a_metric), "key": b"bot/1.0"}
    add(NOBODY, DEADLETTER, None, encode[DEADLETTER.name](letter))
    owners = {(e.topic.name, e.key, e.value): owner for owner, e in owned}
    return [e for _, e in owned], owners


@pytest.fixture(scope="module")
def written_lake(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str, dict]]:
    """A lake the real sink wrote from the events above (module-wide: copy before changing)."""
    root = tmp_path_factory.mktemp("erasure-lake")
    events, owners = lake_events()
    with sink_topics(bootstrap_servers) as namespace:
        topics = {spec.name: spec.in_namespace(namespace) for spec in SINK_TOPICS}
        produce(bootstrap_servers, events, topics)
        settings = SinkSettings(
            bootstrap_servers=bootstrap_servers,
            lake_uri=str(root),
            namespace=namespace,
            group_id=f"g-{namespace}",
            flush_latency_s=0.5,
        )
        DeltaSink(settings).run(exit_when_idle_s=2.0)
        yield root, namespace, owners


@pytest.fixture()
def lake(written_lake: tuple[Path, str, dict], tmp_path: Path) -> tuple[Path, str, dict]:
    root, namespace, owners = written_lake
    shutil.copytree(root, tmp_path / "lake")
    return tmp_path / "lake", namespace, owners


def rows_on_disk(root: Path, namespace: str, table: str) -> list[dict]:
    """Every row of every Parquet file under the table directory, referenced or not."""
    rows: list[dict] = []
    for path in sorted((root / namespace / table).rglob("*.parquet")):
        if "_delta_log" in path.parts:  # checkpoints
            continue
        rows.extend(pq.read_table(path, partitioning=None).to_pylist())
    return rows


def owner_of(table: str, row: dict, owners: dict) -> str:
    """Whose a row is, from what the test produced (never from the project's matching)."""
    base = row["kafka_topic"].rsplit(".", 1)[0]
    if table == RAW_EVENTS.name:
        return owners[(base, row["key"], row["value"])]
    if table == ENRICHED_INTERACTIONS.name:
        return _enriched_owner(row, owners)
    if row["detected_by"] == "sink":  # dead-lettered by the sink: the enriched message itself
        return owners[(ENRICHED.name, row["key"], row["original"])]
    return _dead_letter_owner(row, owners)


def _enriched_owner(row: dict, owners: dict) -> str:
    decode = serializer_for(ENRICHED).decode
    for (topic, _, value), owner in owners.items():
        if topic != ENRICHED.name:
            continue
        try:
            produced = decode(value)
        except ContractError:  # the undecodable one: dead-lettered by the sink
            continue
        if produced["event_id"] == row["event_id"]:
            return owner
    raise AssertionError(f"an enriched row the test did not produce: {row['event_id']}")


def _dead_letter_owner(row: dict, owners: dict) -> str:
    decode = serializer_for(DEADLETTER).decode
    for (topic, _, value), owner in owners.items():
        if topic == DEADLETTER.name and decode(value)["original"] == row["original"]:
            return owner
    raise AssertionError(f"a dead letter the test did not produce: {row['original']!r}")


def census(root: Path, namespace: str, owners: dict) -> dict[str, Counter[str]]:
    return {
        table: Counter(owner_of(table, row, owners) for row in rows_on_disk(root, namespace, table))
        for table in TABLES
    }


def log_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("_delta_log/*.json"))


def erase(root: Path, namespace: str, *args: str) -> str:
    result = CliRunner().invoke(
        app,
        ["lake", "erase", *args, "--lake-uri", str(root), "--namespace", namespace],
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_erasing_u42_leaves_every_row_of_u420(lake: tuple[Path, str, dict]) -> None:
    root, namespace, owners = lake
    before = census(root, namespace, owners)
    # Every owner is in every table it can be in, so a wrong match would show.
    for table in TABLES:
        assert before[table][ERASED] and before[table][NEIGHBOUR], (table, before[table])
    assert before[DEAD_LETTERS.name][NOBODY] == 3 and before[RAW_EVENTS.name][NOBODY] == 1

    holding = [
        row["event_id"]
        for row in rows_on_disk(root, namespace, ENRICHED_INTERACTIONS.name)
        if any(f["rater_id"] == ERASED for f in row["feedback"])
    ]
    output = erase(root, namespace, "--user-id", ERASED, "--vacuum")

    after = census(root, namespace, owners)
    for table in TABLES:
        assert after[table][ERASED] == 0, (table, after[table])
        assert after[table][NEIGHBOUR] == before[table][NEIGHBOUR], table
        assert after[table][NOBODY] == before[table][NOBODY], table
    # 5 sessions: a (decoded), c (a dead letter's original), d (wrong-topic bytes), e (cut),
    # and the group chat.
    assert "of 5 sessions" in output
    # Kept and reported: the raw garbage without a key, and two undecodable dead letters.
    assert "kept 3 rows" in output
    deleted = {table: before[table][ERASED] for table in TABLES}
    erasures = pq.read_table(root / namespace / "erasures").to_pylist()
    # The turn of u-420 that held u-42's feedback is named (hashed) for curated datasets.
    salt = erasures[0]["id_salt"]
    assert len(holding) == 1
    assert erasures[0]["turn_ids_sha256"] == [salted_sha256(salt, holding[0])]
    # As `curate purge` and replays read the ledger (the turns were not read until 7 Dec).
    ledger = read_ledger(ledger_paths(str(root), f"{namespace}/"))
    assert ledger.erasure_of_turn(holding[0]) == erasures[0]["erasure_id"]
    assert {r["table_name"]: r["rows_deleted"] for r in erasures} == {
        **deleted,
        "quality_metrics": 0,
    }
    assert {r["table_name"]: r["unattributed_rows"] for r in erasures} == {
        RAW_EVENTS.name: 1,
        ENRICHED_INTERACTIONS.name: 0,
        DEAD_LETTERS.name: 2,
        "quality_metrics": 0,
    }


@pytest.mark.parametrize("user_id", ["9", "u-4", "s-42-a", "u-4200"])
def test_erasing_an_unknown_id_deletes_nothing_and_writes_no_version(
    lake: tuple[Path, str, dict], user_id: str
) -> None:
    root, namespace, owners = lake
    before, logs = census(root, namespace, owners), log_files(root)

    output = erase(root, namespace, "--user-id", user_id, "--vacuum")

    assert "nothing matched" in output
    assert log_files(root) == logs
    assert census(root, namespace, owners) == before
    assert not (root / namespace / "erasures").exists()


def test_dry_run_lists_what_would_go_and_writes_nothing(lake: tuple[Path, str, dict]) -> None:
    root, namespace, owners = lake
    before, logs = census(root, namespace, owners), log_files(root)
    files = sorted(root.rglob("*"))

    output = erase(root, namespace, "--user-id", ERASED, "--dry-run", "--vacuum")

    assert "dry run" in output and "nothing written" in output
    for table in TABLES:
        assert f"{table}: would delete {before[table][ERASED]} rows" in output, output
    assert sorted(root.rglob("*")) == files
    assert log_files(root) == logs


def test_a_second_erasure_after_the_first_rewrote_the_tables(
    lake: tuple[Path, str, dict],
) -> None:
    """The first erasure's delete rewrites Parquet files (delta-rs writes their text columns as
    `string_view`); the second erasure's filters must still read them. It crashed with "no
    kernel matching input types (string, string_view)" on its first filter."""
    root, namespace, owners = lake
    before = census(root, namespace, owners)
    erase(root, namespace, "--user-id", ERASED)
    erase(root, namespace, "--user-id", NEIGHBOUR, "--vacuum")
    after = census(root, namespace, owners)
    for table in TABLES:
        assert after[table][ERASED] == after[table][NEIGHBOUR] == 0, (table, after[table])
        assert after[table][NOBODY] == before[table][NOBODY], table
    assert len(pq.read_table(root / namespace / "erasures").to_pylist()) == 2 * 4
