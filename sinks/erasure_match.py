"""Which rows of the lake are one user's: exact identifiers only, never substrings of bytes.

A row is the user's when its `user_id` is the user's id, when it is feedback the user gave
(`rater_id`, in anyone's session, and the enriched turns holding it), or when it names no user
and its session is one of the user's sessions (a session in which one of the user's events
appears). A row that names another user is that user's, even in a session the two shared (a
group chat, a session id an agent uses for everyone): erasing one of them must not take the
other's turns. Rows that name nobody (feedback, signals, turns without a user id) cannot be
told apart in a shared session, so they go with any of its users. An enriched turn of another
user goes too when it holds feedback (which may be the erased user's thumbs or correction): the
raw turn stays.

The identifiers are:
- decoded columns (`user_id`, `session_id`) where the table has them, and a feedback's
  `rater_id` decoded from its bytes (only feedback whose bytes hold the id is decoded);
- for rows that only hold bytes (raw messages that did not decode, dead letters): the ids
  decoded from those bytes (`sinks.identifiers`), and the Kafka key when the source topic is
  keyed by session id (the input and enriched topics, by contract in `schemas.topics`).

A bytes-only row with none of these is nobody's that we can tell: it is kept and counted
(`Selection.unattributed`), so the operator can look at it by hand.
"""

from collections.abc import Callable, Set
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, RAW_EVENTS
from schemas.topics import FEEDBACK, session_key, topic_by_name
from sinks.identifiers import IdentifierReader, Identifiers
from sinks.lake import Lake
from sinks.lake_reader import text_field

__all__ = ["COORDINATES", "SELECTED", "Selection", "UserRows", "keyed_by_session"]

COORDINATES = ["kafka_topic", "kafka_partition", "kafka_offset"]
# What a selection holds: the coordinates to delete by, and the time that says how long Kafka
# keeps its copy (`sinks.erasure_copies`).
SELECTED = [*COORDINATES, "kafka_timestamp"]
_SESSION_KEY = "session_id"
FEEDBACK_RECORD = FEEDBACK.value_record


@dataclass(frozen=True)
class Selection:
    """The coordinates (and Kafka times) of the rows to delete from one table, and the rows
    nobody can claim."""

    rows: pa.Table
    unattributed: int = 0


class UserRows:
    """Finds one user's sessions once, then the user's rows in each table."""

    def __init__(self, lake: Lake, user_id: str, reader: IdentifierReader | None = None) -> None:
        self.user_id = user_id
        self.reader = reader or IdentifierReader()
        self.sessions = self._sessions(lake)
        # Feedback the user gave, in any session: its rows and, by session, its attachments;
        # and the turns whose enriched records hold it.
        self.rated, self.rated_attachments = self._rated(lake)
        self.rated_turns = self._turns_holding_feedback_by_user(lake)

    def selector(self, table_name: str) -> Callable[[DeltaTable], Selection] | None:
        """How to select this user's rows of a table; None for a table without user data."""
        return {
            RAW_EVENTS.name: self.raw_events,
            ENRICHED_INTERACTIONS.name: self.enriched,
            DEAD_LETTERS.name: self.dead_letters,
        }.get(table_name)

    def raw_events(self, table: DeltaTable) -> Selection:
        decoded = table.to_pyarrow_table(
            columns=[*SELECTED, "user_id", "session_id"],
            filters=pc.field("decode_error").is_null(),
        )
        mine = decoded.filter(self._by_columns(decoded)).select(SELECTED)
        rated = self.rated.select(SELECTED)
        undecoded = table.to_pyarrow_table(
            columns=[*SELECTED, "key", "value"], filters=pc.field("decode_error").is_valid()
        )
        flags, unattributed = self._by_bytes(undecoded, "value", lambda _: True)
        rows = pa.concat_tables([mine, rated, undecoded.filter(flags).select(SELECTED)])
        return Selection(_unique_coordinates(rows), unattributed)

    def _rated(self, lake: Lake) -> tuple[pa.Table, dict[str, set[str]]]:
        """Decoded feedback rows the user gave (`rater_id`), in any session, and their
        attachments by session. Their bytes are searched for the id only to skip decoding the
        others; the decoded id decides."""
        columns = [*SELECTED, "session_id", "value"]
        if not lake.exists(RAW_EVENTS.name):
            return pa.table({c: [] for c in columns}), {}
        found = lake.open(RAW_EVENTS.name).to_pyarrow_table(
            columns=columns,
            filters=(pc.field("decode_error").is_null())
            & (text_field("record_name") == FEEDBACK_RECORD),
        )
        maybe = found.filter(pc.fill_null(pc.match_substring(found["value"], self.user_id), False))
        flags = [
            (ids := self.reader.read(value)) is not None and ids.rater_id == self.user_id
            for value in maybe["value"].to_pylist()
        ]
        rated = maybe.filter(pa.array(flags, pa.bool_()))
        attachments: dict[str, set[str]] = {}
        for session_id, value in zip(
            rated["session_id"].to_pylist(), rated["value"].to_pylist(), strict=True
        ):
            digests = self.reader.attachment_digests(value)
            if digests:
                attachments.setdefault(session_id, set()).update(digests)
        return rated, attachments

    def enriched(self, table: DeltaTable) -> Selection:
        data = table.to_pyarrow_table(columns=[*SELECTED, "user_id", "session_id", "feedback"])
        with_feedback = pc.fill_null(pc.greater(pc.list_value_length(data["feedback"]), 0), False)
        shared_with_feedback = pc.and_(self._in_sessions(data), with_feedback)
        mine = pc.or_(self._by_columns(data), shared_with_feedback)
        return Selection(
            data.filter(pc.or_(mine, self._holds_feedback_by_user(data))).select(SELECTED)
        )

    def _turns_holding_feedback_by_user(self, lake: Lake) -> set[str]:
        if not lake.exists(ENRICHED_INTERACTIONS.name):
            return set()
        data = lake.open(ENRICHED_INTERACTIONS.name).to_pyarrow_table(
            columns=["event_id", "feedback"]
        )
        return set(data.filter(self._holds_feedback_by_user(data))["event_id"].to_pylist())

    def _holds_feedback_by_user(self, data: pa.Table) -> pa.Array:
        """Rows of the enriched table holding feedback the user gave (`rater_id`)."""
        feedback = data["feedback"].combine_chunks()
        raters = pc.struct_field(pc.list_flatten(feedback), "rater_id")
        by_user = pc.fill_null(pc.equal(raters, self.user_id), False)
        rows = pc.list_parent_indices(feedback).filter(by_user)
        return pc.is_in(pa.array(range(data.num_rows), pa.int64()), value_set=rows.cast(pa.int64()))

    def dead_letters(self, table: DeltaTable) -> Selection:
        data = table.to_pyarrow_table(columns=[*SELECTED, "source_topic", "key", "original"])
        sources = data["source_topic"].to_pylist()
        flags, unattributed = self._by_bytes(
            data, "original", lambda row: keyed_by_session(sources[row])
        )
        return Selection(data.filter(flags).select(SELECTED), unattributed)

    def attachments_of_others(self, lake: Lake, folders: Set[str]) -> dict[str, set[str]]:
        """Per session of `folders` (attachment folders the erasure touches: the user's
        sessions', and those holding feedback the user gave), the attachments (sha256) that
        rows it keeps refer to: other users' turns in a shared session, everyone's events in
        another's session. Reads the rows of those sessions only."""
        if not folders or not lake.exists(RAW_EVENTS.name):
            return {}
        decoded = lake.open(RAW_EVENTS.name).to_pyarrow_table(
            columns=[*COORDINATES, "session_id", "user_id", "value"],
            filters=(pc.field("decode_error").is_null())
            & text_field("session_id").isin(sorted(folders)),
        )
        rated = set(zip(*(self.rated[c].to_pylist() for c in COORDINATES), strict=True))
        erased = self._by_columns(decoded).to_pylist()
        coordinates = list(zip(*(decoded[c].to_pylist() for c in COORDINATES), strict=True))
        sessions, values = decoded["session_id"].to_pylist(), decoded["value"].to_pylist()
        kept: dict[str, set[str]] = {}
        for row, (session_id, value) in enumerate(zip(sessions, values, strict=True)):
            if not erased[row] and coordinates[row] not in rated:
                kept.setdefault(session_id, set()).update(self.reader.attachment_digests(value))
        return kept

    def _sessions(self, lake: Lake) -> set[str]:
        """Sessions in which one of the user's events appears, in any table."""
        sessions: set[str] = set()
        mine = text_field("user_id") == self.user_id
        for name in (RAW_EVENTS.name, ENRICHED_INTERACTIONS.name):
            if lake.exists(name):
                found = lake.open(name).to_pyarrow_table(columns=["session_id"], filters=mine)
                sessions.update(s for s in found["session_id"].to_pylist() if s is not None)
        for name, column, condition in (
            (RAW_EVENTS.name, "value", pc.field("decode_error").is_valid()),
            (DEAD_LETTERS.name, "original", None),
        ):
            if not lake.exists(name):
                continue
            blobs = lake.open(name).to_pyarrow_table(columns=[column], filters=condition)
            for blob in blobs[column].to_pylist():
                ids = self.reader.read(blob)
                if ids is not None and ids.user_id == self.user_id and ids.session_id:
                    sessions.add(ids.session_id)
        return sessions

    def _by_columns(self, data: pa.Table) -> pa.ChunkedArray:
        """The user's rows, or rows naming no user in one of the user's sessions."""
        by_user = pc.fill_null(pc.equal(data["user_id"], self.user_id), False)
        nobody_named = pc.is_null(data["user_id"])
        return pc.or_(by_user, pc.and_(nobody_named, self._in_sessions(data)))

    def _in_sessions(self, data: pa.Table) -> pa.ChunkedArray:
        value_set = pa.array(sorted(self.sessions), pa.string())
        return pc.fill_null(pc.is_in(data["session_id"], value_set=value_set), False)

    def _by_bytes(
        self, data: pa.Table, column: str, key_is_session: Callable[[int], bool]
    ) -> tuple[pa.Array, int]:
        """Flags of the user's rows among bytes-only rows, and how many rows had no identifier."""
        flags: list[bool] = []
        unattributed = 0
        keys = data["key"].to_pylist()
        for row, blob in enumerate(data[column].to_pylist()):
            ids = self.reader.read(blob)
            key = session_key(keys[row]) if key_is_session(row) else None
            if key is None and ids is None:
                unattributed += 1
            by_key = key is not None and key in self.sessions and not _names_a_user(ids)
            flags.append(self._claims(ids) or by_key)
        return pa.array(flags, pa.bool_()), unattributed

    def _claims(self, ids: Identifiers | None) -> bool:
        if ids is None:
            return False
        if ids.user_id is not None:
            return ids.user_id == self.user_id
        if ids.rater_id == self.user_id:
            return True
        return ids.session_id is not None and ids.session_id in self.sessions


def _unique_coordinates(rows: pa.Table) -> pa.Table:
    """Each row once (a feedback the user gave in their own session is found twice)."""
    if rows.num_rows == 0:
        return rows
    grouped = rows.group_by(COORDINATES, use_threads=False).aggregate([("kafka_timestamp", "min")])
    # By name: the order of a group_by's output columns has changed between pyarrow versions.
    columns = {name: grouped[name] for name in COORDINATES}
    return pa.table({**columns, "kafka_timestamp": grouped["kafka_timestamp_min"]})


def _names_a_user(ids: Identifiers | None) -> bool:
    return ids is not None and ids.user_id is not None


def keyed_by_session(topic: str | None) -> bool:
    """Whether the Kafka key of a message of `topic` is its session id (by the registry)."""
    if topic is None:
        return False
    try:
        return topic_by_name(topic).key == _SESSION_KEY
    except KeyError:
        return False
