"""Damaged lake tables in one line: delta-rs and pyarrow errors become project exceptions.

delta-rs reports a missing data file as `FileNotFoundError("Object at location ... not found")`
(with a 40-line trace), an unparsable commit as `DeltaError("Kernel error: Json error: ...")`
naming no file, and a version whose files vacuum removed exactly like a missing file. Here they
become `DamagedTableError` (a data file missing or unreadable), `BrokenLogError` (a commit of
`_delta_log` missing or unparsable, found by reading the log ourselves), `VacuumedVersionError`
and `NoSuchVersionError`, each naming the table, the version, the file and what to run. Readers
(`Lake.open`, `read_table`), maintenance and the sink's start-up go through `translated_errors`,
so the CLI and the sink say the same thing.
"""

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.fs import DeltaStorageHandler

from plumbing.settings import DEFAULT_LAKE_URI
from sinks.exceptions import (
    BrokenLogError,
    DamagedTableError,
    LakeError,
    NoSuchVersionError,
    VacuumedVersionError,
)

if TYPE_CHECKING:
    from sinks.lake import Lake

__all__ = [
    "LOG_DIR",
    "LogDamage",
    "check_data_files",
    "classify",
    "display_name",
    "find_log_damage",
    "missing_file_error",
    "oldest_readable_version",
    "repair_command",
    "table_storage",
    "translated_errors",
]

logger = logging.getLogger(__name__)

LOG_DIR = "_delta_log"
_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.\d+\.\d+)?\.parquet$")
_MISSING = re.compile(r"Object at location (\S+) not found")
_UNREADABLE = re.compile(r"Could not open Parquet input source '([^']+)'")
_PAST_LATEST = re.compile(
    r"LogSegment end version (\d+) not the same as the specified end version (\d+)"
)


@dataclass(frozen=True)
class LogDamage:
    """The first commit delta-rs cannot read: `file` is relative to the table root."""

    version: int
    file: str
    problem: str  # "is missing" or "cannot be parsed (...)"
    latest: int  # the highest commit in the log: nothing depends on `version` when equal


def table_storage(lake: "Lake", name: str) -> pafs.FileSystem:
    """The table's files through delta-rs's own object store (same options, S3 included)."""
    return pafs.PyFileSystem(DeltaStorageHandler(lake.path(name), lake.storage_options or None))


def display_name(lake: "Lake", name: str) -> str:
    """`replay-1/raw_events` in a namespace, `raw_events` otherwise."""
    return f"{lake.prefix}{name}"


def repair_command(lake: "Lake", name: str) -> str:
    """The `feedbackctl lake repair` line for this table, with the flags that find it."""
    command = f"feedbackctl lake repair {name}"
    if lake.prefix:
        command += f" --namespace {lake.prefix.rstrip('/')}"
    if lake.uri != DEFAULT_LAKE_URI:
        command += f" --lake-uri {lake.uri}"
    return command


def _log_listing(storage: pafs.FileSystem) -> tuple[dict[int, str], list[int]]:
    """Commit files by version, and checkpoint versions."""
    commits: dict[int, str] = {}
    checkpoints: list[int] = []
    for info in storage.get_file_info(pafs.FileSelector(LOG_DIR, allow_not_found=True)):
        base = info.base_name
        if match := _COMMIT.match(base):
            commits[int(match.group(1))] = f"{LOG_DIR}/{base}"
        elif match := _CHECKPOINT.match(base):
            checkpoints.append(int(match.group(1)))
    return commits, checkpoints


def _unparsable(storage: pafs.FileSystem, path: str) -> str | None:
    """Why a commit file is not newline-delimited JSON actions (None: it is)."""
    with storage.open_input_stream(path) as stream:
        raw = stream.read()
    try:
        text = raw.decode("utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() and not isinstance(json.loads(line), dict):
                return f"line {number} is not a JSON object"
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return str(exc)
    return None


def find_log_damage(lake: "Lake", name: str, up_to: int | None = None) -> LogDamage | None:
    """The first missing or unparsable commit delta-rs reads to load version `up_to` (default:
    the latest): those after the newest checkpoint at or below it, as delta-rs does."""
    storage = table_storage(lake, name)
    commits, checkpoints = _log_listing(storage)
    if not commits:
        return None
    latest = max(commits)
    target = latest if up_to is None else min(up_to, latest)
    base = max((c for c in checkpoints if c <= target), default=-1)
    for version in range(base + 1, target + 1):
        path = commits.get(version)
        if path is None:
            return LogDamage(version, f"{LOG_DIR}/{version:020d}.json", "is missing", latest)
        problem = _unparsable(storage, path)
        if problem is not None:
            return LogDamage(version, path, f"cannot be parsed ({problem})", latest)
    return None


def _data_files(lake: "Lake", name: str, version: int | None = None) -> list[str]:
    """Paths (relative, as on storage) of the data files of a version."""
    table = DeltaTable(
        lake.path(name), version=version, storage_options=lake.storage_options or None
    )
    paths = table.get_add_actions(flatten=True).column("path").to_pylist()
    return [unquote(path) for path in paths]  # the log percent-encodes once more than storage


def _readable(lake: "Lake", name: str, storage: pafs.FileSystem, version: int) -> bool:
    try:
        files = _data_files(lake, name, version)
    except Exception:  # a probe: a version that does not load is not readable
        return False
    return all(info.type != pafs.FileType.NotFound for info in storage.get_file_info(files))


def oldest_readable_version(lake: "Lake", name: str) -> int | None:
    """The oldest version whose data files all exist (None: not even the latest).

    Vacuum removes the files of old versions only, so readable versions are a suffix of the
    history: a binary search loads O(log n) versions.
    """
    storage = table_storage(lake, name)
    commits, checkpoints = _log_listing(storage)
    if not commits:
        return None
    low, high = min([*commits, *checkpoints]), max(commits)
    if not _readable(lake, name, storage, high):
        return None
    while low < high:
        middle = (low + high) // 2
        if _readable(lake, name, storage, middle):
            high = middle
        else:
            low = middle + 1
    return high


def _relative(location: str, name: str) -> str:
    """A storage location made relative to the table root (`event_date=.../part-....parquet`)."""
    marker = f"/{name}/"
    at = location.rfind(marker)
    return location[at + len(marker) :] if at >= 0 else location


def _in_latest(lake: "Lake", name: str, file: str) -> bool:
    """Whether the latest version still references `file` (True when that cannot be told)."""
    try:
        return file in _data_files(lake, name)
    except Exception:
        return True


def missing_file_error(
    lake: "Lake", name: str, version: int | None, file: str, time_travel: bool
) -> LakeError:
    """A data file of `version` is gone: vacuumed (time travel, and the latest version no
    longer has it) or lost (`lake repair` drops it from the log)."""
    table = display_name(lake, name)
    if time_travel and version is not None and not _in_latest(lake, name, file):
        return VacuumedVersionError(table, version, oldest_readable_version(lake, name))
    return DamagedTableError(
        table, version, file, f"data file {file} is missing", repair_command(lake, name)
    )


def check_data_files(lake: "Lake", name: str, table: DeltaTable, time_travel: bool) -> None:
    """Raise before a read when a data file of the loaded version is gone (local lakes).

    Why not let the read fail: a pyarrow scan that stops at a missing file leaves reads of
    other files in flight, and a process that exits right then (the CLI) aborts with SIGABRT
    instead of exiting 1. On a local disk a stat per file costs milliseconds; on object stores
    (a request per file) the read's own error is translated instead.
    """
    root = _local_root(lake, name)
    if root is None:
        return
    for path in table.get_add_actions(flatten=True).column("path").to_pylist():
        file = unquote(str(path))
        if not os.path.exists(os.path.join(root, file)):
            raise missing_file_error(lake, name, table.version(), file, time_travel)


def _local_root(lake: "Lake", name: str) -> str | None:
    """The table's directory when the lake is on a local disk."""
    path = lake.path(name)
    if path.startswith("file://"):
        return path.removeprefix("file://")
    return None if "://" in path else path


def classify(
    exc: BaseException, lake: "Lake", name: str, version: int | None, time_travel: bool
) -> LakeError | None:
    """The project error for a failure opening or reading a table (None: not a damaged table).

    `version`: the version being read, when known; `time_travel`: an older version was asked
    for, so a missing file may have been vacuumed rather than lost.
    """
    text = str(exc)
    table = display_name(lake, name)
    repair = repair_command(lake, name)
    if match := _MISSING.search(text):
        return missing_file_error(lake, name, version, _relative(match.group(1), name), time_travel)
    if match := _UNREADABLE.search(text):
        file = _relative(match.group(1), name)
        return DamagedTableError(
            table,
            version,
            file,
            f"data file {file} is not readable Parquet",
            f"move it out of the table, then {repair}",
        )
    if match := _PAST_LATEST.search(text):
        return NoSuchVersionError(table, int(match.group(2)), int(match.group(1)))
    if isinstance(exc, DeltaError | OSError):
        try:
            damage = find_log_damage(lake, name, version if time_travel else None)
        except Exception:  # cannot list or read the log either: not ours to explain
            logger.debug("cannot inspect the log of %s", table, exc_info=True)
            return None
        if damage is not None:
            return BrokenLogError(
                table,
                damage.version,
                damage.file,
                f"log entry {damage.file} {damage.problem}",
                f"{repair} (prints the procedure)",
            )
    return None


@contextmanager
def translated_errors(
    lake: "Lake", name: str, version: int | None = None, time_travel: bool = False
) -> Iterator[None]:
    """Re-raise what `classify` recognises as its project error; the delta-rs traceback goes to
    the debug log only. Anything else propagates unchanged."""
    try:
        yield
    except LakeError:
        raise
    except Exception as exc:
        error = classify(exc, lake, name, version, time_travel)
        if error is None:
            raise
        logger.debug("%s", error, exc_info=exc)
        raise error from exc
