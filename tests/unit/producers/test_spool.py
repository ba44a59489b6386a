"""The spool file: written by one live client, claimed by one replay, never lost to a crash."""

import fcntl
from pathlib import Path

from producers.spool import SpoolEntry, SpoolWriter, claim_spool_files, spool_files


def test_entries_round_trip_through_a_claimed_file(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append("agent.signals.v1", b"s-1", b"\xc3\x01body", "_MSG_TIMED_OUT")
    writer.append("agent.signals.v1", None, b"\x00\xff", "queue_full")
    writer.close()
    [claimed] = list(claim_spool_files(tmp_path))
    assert [(e.topic, e.key, e.value, e.reason) for e in claimed.entries] == [
        ("agent.signals.v1", b"s-1", b"\xc3\x01body", "_MSG_TIMED_OUT"),
        ("agent.signals.v1", None, b"\x00\xff", "queue_full"),
    ]
    claimed.done()
    assert spool_files(tmp_path) == []


def test_a_live_writers_file_is_not_claimed(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append("t", b"k", b"v", "r")
    assert writer.path is not None and spool_files(tmp_path) == [writer.path]
    assert list(claim_spool_files(tmp_path)) == []
    writer.close()
    assert len(list(claim_spool_files(tmp_path))) == 1


def test_a_claimed_file_is_not_claimed_twice(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append("t", b"k", b"v", "r")
    writer.close()
    first = next(claim_spool_files(tmp_path))
    assert list(claim_spool_files(tmp_path)) == []
    first.release()
    again = next(claim_spool_files(tmp_path))
    assert len(again.entries) == 1
    again.done()


def test_a_crashed_writers_file_is_claimed(tmp_path: Path) -> None:
    """A crash drops the flock: simulate it by unlocking without the writer's close()."""
    writer = SpoolWriter(tmp_path)
    writer.append("t", b"k", b"v", "r")
    assert writer._file is not None
    fcntl.flock(writer._file.fileno(), fcntl.LOCK_UN)
    [claimed] = list(claim_spool_files(tmp_path))
    assert len(claimed.entries) == 1
    claimed.done()


def test_a_torn_last_line_is_kept_aside_not_replayed(tmp_path: Path) -> None:
    path = tmp_path / "spool-1-1-abc.jsonl"
    good = SpoolEntry("t", b"k", b"v", "r", 1).to_line()
    path.write_text(good + good[: len(good) // 2])
    [claimed] = list(claim_spool_files(tmp_path))
    assert len(claimed.entries) == 1
    assert path.with_suffix(".corrupt").read_text() == good[: len(good) // 2] + "\n"
    claimed.done()


def test_nothing_to_claim_in_a_missing_directory(tmp_path: Path) -> None:
    assert list(claim_spool_files(tmp_path / "absent")) == []
