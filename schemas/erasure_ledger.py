"""The erasure ledger's contract: the `erasures` Delta table, and who it says was erased.

`lake erase` writes it (`sinks.erasure`); curation, replays and backfills read it to keep an
erased user's events out of every copy they make, so its contract lives here, where all of them
may import it. Ids are never stored in clear: the ledger keeps SHA-256 hashes of the salt and
the id (`salted_sha256`), one random salt per ledger, in the `id_salt` column. Whoever knows an
id can still check it (that is the point: a replay must recognise the user), but the ledger
alone names nobody, and hashes of two lakes cannot be joined. Records written before salting
have a null salt: their hash is the plain SHA-256, which `salted_sha256("", id)` gives too.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from schemas.lake_paths import check_table_prefix

__all__ = [
    "ERASURES_SCHEMA",
    "KAFKA_COPY_TYPE",
    "LEDGER_TABLE",
    "ErasedIdentities",
    "LedgerEntry",
    "LedgerFollower",
    "ledger_paths",
    "read_ledger",
    "salted_sha256",
]

LEDGER_TABLE = "erasures"
_TIME = pa.timestamp("ms", tz="UTC")
# Where a copy of the user's messages stays outside the lake, and until when (at the earliest).
KAFKA_COPY_TYPE = pa.struct(
    [
        pa.field("topic", pa.string()),
        pa.field("last_message_at", _TIME),
        pa.field("retained_until", _TIME),
    ]
)
# One row per table and erasure; the erasure-wide columns repeat on each of its rows.
ERASURES_SCHEMA = pa.schema(
    [
        pa.field("erasure_id", pa.string(), nullable=False),
        pa.field("requested_at", _TIME, nullable=False),
        pa.field("user_id_sha256", pa.string(), nullable=False),
        pa.field("sessions", pa.int64(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("rows_deleted", pa.int64(), nullable=False),
        pa.field("version_before", pa.int64(), nullable=True),
        pa.field("version_after", pa.int64(), nullable=True),
        pa.field("selection", pa.string(), nullable=False),
        pa.field("vacuumed_files", pa.int64(), nullable=False),
        # Added later: null in records written before each existed.
        pa.field("unattributed_rows", pa.int64(), nullable=True),
        pa.field("id_salt", pa.string(), nullable=True),
        pa.field("session_ids_sha256", pa.list_(pa.string()), nullable=True),
        pa.field("kafka_copies", pa.list_(KAFKA_COPY_TYPE), nullable=True),
        # Turns of other users' sessions that held feedback the user gave (their enriched
        # records were deleted): curated rows built on them go too.
        pa.field("turn_ids_sha256", pa.list_(pa.string()), nullable=True),
    ]
)


def salted_sha256(salt: str, value: str) -> str:
    """Hex SHA-256 of salt and id: how the ledger names users and sessions."""
    return hashlib.sha256(salt.encode() + value.encode()).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One erasure: the user's and sessions' salted hashes."""

    erasure_id: str
    salt: str
    user_hash: str
    session_hashes: frozenset[str] = frozenset()
    turn_hashes: frozenset[str] = frozenset()

    def erases_user(self, user_id: str) -> bool:
        """Whether this is an erasure of `user_id` (which records it covers: `erasure_of`)."""
        return salted_sha256(self.salt, user_id) == self.user_hash


@dataclass(frozen=True)
class ErasedIdentities:
    """Every erased user and session of one or more ledgers, checked by hash."""

    entries: tuple[LedgerEntry, ...] = ()
    _by_salt: dict[str, tuple[dict[str, str], dict[str, str]]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _turns_by_salt: dict[str, dict[str, str]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for entry in self.entries:
            users, sessions = self._by_salt.setdefault(entry.salt, ({}, {}))
            users.setdefault(entry.user_hash, entry.erasure_id)
            for session in entry.session_hashes:
                sessions.setdefault(session, entry.erasure_id)
            turns = self._turns_by_salt.setdefault(entry.salt, {})
            for turn in entry.turn_hashes:
                turns.setdefault(turn, entry.erasure_id)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> "ErasedIdentities":
        """Entries of ledger rows (one per erasure; its per-table rows say the same)."""
        entries: dict[str, LedgerEntry] = {}
        for row in rows:
            entries.setdefault(
                row["erasure_id"],
                LedgerEntry(
                    row["erasure_id"],
                    row.get("id_salt") or "",
                    row["user_id_sha256"],
                    frozenset(row.get("session_ids_sha256") or ()),
                    frozenset(row.get("turn_ids_sha256") or ()),
                ),
            )
        return cls(tuple(entries.values()))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def erasure_of(self, user_id: str | None, session_id: str | None) -> str | None:
        """The id of the erasure that covers a record of this user and session, None when none
        does. A record that names its user is that user's alone, even in an erased session
        another user shared (a group chat); one that names nobody (feedback, signals) goes
        with its session."""
        for salt, (users, sessions) in self._by_salt.items():
            if user_id is not None:
                if found := users.get(salted_sha256(salt, user_id)):
                    return found
            elif session_id is not None and (
                found := sessions.get(salted_sha256(salt, session_id))
            ):
                return found
        return None

    def erasure_of_event(
        self,
        user_id: str | None,
        session_id: str | None,
        rater_id: str | None = None,
        keyed_session: str | None = None,
    ) -> str | None:
        """The erasure that covers one event, by the lake's rule (`erasure_of`), None when none
        does: its user's; else, naming nobody, its session's, or that of the Kafka key of a topic
        keyed by session (`keyed_session`: bytes that did not decode); and feedback an erased
        user gave (`rater_id`), in any session. The sink's gate, replays and backfills, and the
        processor ask this of every message."""
        found = self.erasure_of(user_id, session_id)
        if found is None and rater_id is not None:
            found = self.erasure_of(rater_id, None)
        if found is None and user_id is None and keyed_session is not None:
            found = self.erasure_of(None, keyed_session)
        return found

    def erasure_of_turn(self, event_id: str) -> str | None:
        """The id of the erasure that deleted this turn's enriched record for holding feedback
        its user gave in another user's session, None when none did."""
        for salt, turns in self._turns_by_salt.items():
            if turns and (found := turns.get(salted_sha256(salt, event_id))):
                return found
        return None

    def for_user(self, user_id: str) -> "ErasedIdentities":
        """Only the erasures of `user_id` (e.g. to finish an erasure interrupted earlier)."""
        return ErasedIdentities(tuple(e for e in self.entries if e.erases_user(user_id)))

    def merged(self, other: "ErasedIdentities") -> "ErasedIdentities":
        known = {e.erasure_id for e in self.entries}
        return ErasedIdentities(
            self.entries + tuple(e for e in other.entries if e.erasure_id not in known)
        )


def ledger_paths(lake_uri: str, *prefixes: str) -> list[str]:
    """The ledgers that bind a namespace: the live lake's, and the namespace's own.

    An erasure of the live lake covers every replay of it; one run in a namespace covers that
    namespace. Prefixes are checked like any table prefix (never a path outside the lake).
    """
    root = lake_uri.rstrip("/")
    paths: list[str] = []
    for prefix in ("", *prefixes):
        path = f"{root}/{check_table_prefix(prefix)}{LEDGER_TABLE}"
        if path not in paths:
            paths.append(path)
    return paths


def read_ledger(
    paths: Iterable[str], storage_options: Mapping[str, str] | None = None
) -> ErasedIdentities:
    """The erasures recorded at `paths`; a path without a table adds none."""
    options = dict(storage_options) if storage_options else None
    identities = ErasedIdentities()
    for path in paths:
        if not DeltaTable.is_deltatable(path, options):
            continue
        table = DeltaTable(path, storage_options=options)
        present = set(table.schema().to_arrow().names)
        wanted = [
            "erasure_id",
            "user_id_sha256",
            "id_salt",
            "session_ids_sha256",
            "turn_ids_sha256",
        ]
        rows = table.to_pyarrow_table(columns=[c for c in wanted if c in present]).to_pylist()
        identities = identities.merged(ErasedIdentities.from_rows(rows))
    return identities


@dataclass
class LedgerFollower:
    """The erasures of the ledgers that bind a namespace, re-read only when one of them gets a
    new Delta version: the sink reads them before every commit, the processor every few
    seconds, and a table's version is one log listing where its rows are a Parquet read."""

    lake_uri: str
    table_prefix: str = ""
    storage_options: Mapping[str, str] = field(default_factory=dict)
    identities: ErasedIdentities = field(default_factory=ErasedIdentities)
    _versions: tuple[int | None, ...] = ()

    def refresh(self) -> bool:
        """Re-read the ledgers if one of them changed since the last call; whether it did."""
        paths = ledger_paths(self.lake_uri, self.table_prefix)
        versions = tuple(self._version(path) for path in paths)
        if versions == self._versions:
            return False
        self.identities = read_ledger(paths, self.storage_options)
        self._versions = versions
        return True

    def _version(self, path: str) -> int | None:
        options = dict(self.storage_options) or None
        if not DeltaTable.is_deltatable(path, options):
            return None
        return DeltaTable(path, storage_options=options).version()
