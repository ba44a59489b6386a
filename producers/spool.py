"""The local spool: events that could not be delivered, kept on disk until a later replay.

Each client appends to its own file, `spool-<ms>-<pid>-<random>.jsonl`, one JSON object per line
(topic, base64 key and value, reason, spool time), and holds an exclusive `flock` on it while it
lives. A replaying client claims a file by taking that lock, so a file being written is never
replayed, two replays never share a file, and a crashed writer's file (the kernel drops its lock)
is picked up by the next replay. The bytes are replayed exactly as first encoded, so the events
keep their event_id and consumers deduplicate a replayed event that had in fact arrived.
"""

import binascii
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["ClaimedSpoolFile", "SpoolEntry", "SpoolWriter", "claim_spool_files", "spool_files"]

log = logging.getLogger(__name__)

_PATTERN = "spool-*.jsonl"


@dataclass(frozen=True)
class SpoolEntry:
    """One undelivered event, exactly as it was to be produced."""

    topic: str
    key: bytes | None
    value: bytes
    reason: str
    spooled_at_ms: int

    def to_line(self) -> str:
        return (
            json.dumps(
                {
                    "topic": self.topic,
                    "key": None if self.key is None else _b64(self.key),
                    "value": _b64(self.value),
                    "reason": self.reason,
                    "spooled_at": self.spooled_at_ms,
                },
                separators=(",", ":"),
            )
            + "\n"
        )

    @classmethod
    def from_line(cls, line: str) -> "SpoolEntry":
        item = json.loads(line)
        key = item["key"]
        return cls(
            topic=item["topic"],
            key=None if key is None else binascii.a2b_base64(key),
            value=binascii.a2b_base64(item["value"]),
            reason=item.get("reason", "unknown"),
            spooled_at_ms=int(item.get("spooled_at", 0)),
        )


class SpoolWriter:
    """This client's spool file: created on first use, locked until close()."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def append(self, topic: str, key: bytes | None, value: bytes, reason: str) -> None:
        """Write one event and hand it to the OS (survives a crash of this process)."""
        line = SpoolEntry(topic, key, value, reason, time.time_ns() // 1_000_000).to_line()
        with self._lock:
            handle = self._file or self._open()
            handle.write(line)
            handle.flush()

    def sync(self) -> None:
        """fsync the file (survives a crash of the machine)."""
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        """fsync and release the file so a later replay can claim it."""
        with self._lock:
            if self._file is None:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def _open(self) -> IO[str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"spool-{time.time_ns() // 1_000_000}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Lock under a name replays ignore, then rename: a replay can never claim the file in
        # the instant between its creation and the lock.
        partial = self.directory / f".{stem}.partial"
        handle = open(partial, "a", encoding="utf-8")  # noqa: SIM115 - lives until close()
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path = self.directory / f"{stem}.jsonl"
        os.rename(partial, self.path)
        self._file = handle
        log.warning("spooling undeliverable events to %s", self.path)
        return handle


class ClaimedSpoolFile:
    """A spool file this process holds the lock of; `done()` deletes it."""

    def __init__(self, path: Path, handle: IO[bytes], entries: list[SpoolEntry]) -> None:
        self.path = path
        self.entries = entries
        self._handle = handle

    def done(self) -> None:
        """Every entry is delivered or spooled again: delete the file and drop the lock."""
        try:
            self.path.unlink(missing_ok=True)
        finally:
            self._handle.close()

    def release(self) -> None:
        """Give the file back untouched (a later replay will claim it)."""
        self._handle.close()


def spool_files(directory: Path) -> list[Path]:
    """The spool files waiting in a directory, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(_PATTERN))


def claim_spool_files(directory: Path, exclude: Path | None = None) -> Iterator[ClaimedSpoolFile]:
    """Lock and read, one at a time, each spool file no live process holds."""
    for path in spool_files(directory):
        if path == exclude:
            continue
        claimed = _claim(path)
        if claimed is not None:
            yield claimed


def _claim(path: Path) -> ClaimedSpoolFile | None:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - handed to ClaimedSpoolFile
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Another replay may have finished and deleted the file while we waited to open it.
        if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
            handle.close()
            return None
    except (BlockingIOError, FileNotFoundError):
        handle.close()
        return None
    entries, bad_lines = _parse(handle.read())
    if bad_lines:
        _keep_bad_lines(path, bad_lines)
    return ClaimedSpoolFile(path, handle, entries)


def _parse(data: bytes) -> tuple[list[SpoolEntry], list[bytes]]:
    entries: list[SpoolEntry] = []
    bad: list[bytes] = []
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            entries.append(SpoolEntry.from_line(raw.decode("utf-8")))
        except (ValueError, KeyError, TypeError, binascii.Error):
            bad.append(raw)
    return entries, bad


def _keep_bad_lines(path: Path, lines: list[bytes]) -> None:
    """A line cut short by a crash cannot be replayed; keep it beside the spool for a person."""
    corrupt = path.with_suffix(".corrupt")
    with open(corrupt, "ab") as handle:
        handle.write(b"\n".join(lines) + b"\n")
    log.error("%d unreadable lines in %s kept in %s", len(lines), path, corrupt)


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")
