"""`ErasureGate`: rows of erased users never reach the lake again once `lake erase` recorded them.

An erasure deletes what the lake holds, but the pipeline can still deliver the user's rows
afterwards: the processor keeps a closed session's state for `feedback_grace_s`, so a reviewer's
late feedback on an erased user's turn emits a new revision of it (with the user's prompt and
answer), and a sink restarted from older offsets, or a lagging one, reads Kafka's copies again.
Before each commit the sink reads the ledgers that bind its namespace
(`schemas.erasure_ledger.ledger_paths`) and drops the rows an erasure covers, by the rules the
erasure itself applies (`sinks.erasure_match`) and replays follow (`schemas.erased_messages`):

- a row naming an erased user (`user_id`), and a row naming nobody in an erased session;
- feedback an erased user gave (`rater_id`), in any session, and enriched turns holding it;
- enriched turns of an erased session that hold feedback (it may be the user's), and turns
  the erasure deleted for holding the user's feedback (`turn_ids_sha256`);
- bytes-only rows (undecodable messages, dead letters) by the ids their bytes decode to, else
  by their Kafka key when the source topic is keyed by session.

A row naming another user stays, even in a session shared with the erased one. The ledger
holds salted hashes, so each distinct id of a batch is hashed once per salt.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from schemas.erasure_ledger import ErasedIdentities, LedgerFollower
from schemas.lake import DEAD_LETTERS, ENRICHED_INTERACTIONS, RAW_EVENTS
from schemas.topics import FEEDBACK, session_key
from sinks.erasure_match import keyed_by_session
from sinks.identifiers import IdentifierReader, Identifiers

__all__ = ["ErasureGate"]

logger = logging.getLogger(__name__)

_FEEDBACK_RECORD = FEEDBACK.value_record


@dataclass
class ErasureGate:
    """The ledgers' erasures, re-read when a ledger gets a new version, and the rows they bar."""

    lake_uri: str
    table_prefix: str = ""
    storage_options: Mapping[str, str] = field(default_factory=dict)
    reader: IdentifierReader = field(default_factory=IdentifierReader)
    follower: LedgerFollower = field(init=False)

    def __post_init__(self) -> None:
        self.follower = LedgerFollower(self.lake_uri, self.table_prefix, self.storage_options)

    @property
    def identities(self) -> ErasedIdentities:
        return self.follower.identities

    def refresh(self) -> ErasedIdentities:
        """Re-read the ledgers if one of them changed since the last call; the erasures."""
        if self.follower.refresh() and self.identities:
            logger.info("erasure ledger read: %d erasures bar their rows", len(self.identities))
        return self.identities

    def barred(self, table_name: str, rows: pa.Table) -> pa.Array | None:
        """Which rows of a batch for `table_name` an erasure covers (None: none can be)."""
        if not self.identities or rows.num_rows == 0:
            return None
        check: Callable[[pa.Table], pa.Array] | None = {
            RAW_EVENTS.name: self._raw_events,
            ENRICHED_INTERACTIONS.name: self._enriched,
            DEAD_LETTERS.name: self._dead_letters,
        }.get(table_name)
        return None if check is None else check(rows)

    def _raw_events(self, rows: pa.Table) -> pa.Array:
        decoded = pc.is_null(rows["decode_error"])
        flags = pc.and_(decoded, self._by_columns(rows)).to_pylist()
        names, keys = rows["record_name"].to_pylist(), rows["key"].to_pylist()
        users, values = rows["user_id"].to_pylist(), rows["value"].to_pylist()
        for row, is_decoded in enumerate(decoded.to_pylist()):
            if flags[row]:
                continue
            if not is_decoded:  # bytes only; input topics are keyed by session id
                flags[row] = self._claims(self.reader.read(values[row]), keys[row])
            elif names[row] == _FEEDBACK_RECORD and users[row] is None:
                ids = self.reader.read(values[row])
                flags[row] = ids is not None and self._erased_user(ids.rater_id)
        return pa.array(flags, pa.bool_())

    def _enriched(self, rows: pa.Table) -> pa.Array:
        with_feedback = pc.fill_null(pc.greater(pc.list_value_length(rows["feedback"]), 0), False)
        barred = pc.or_(
            self._by_columns(rows),
            pc.and_(self._erased_sessions(rows["session_id"]), with_feedback),
        )
        turns = rows["event_id"].to_pylist()
        flags = barred.to_pylist()
        raters = self._holding_erased_feedback(rows)
        for row, turn in enumerate(turns):
            if not flags[row]:
                flags[row] = row in raters or (
                    turn is not None and self.identities.erasure_of_turn(turn) is not None
                )
        return pa.array(flags, pa.bool_())

    def _dead_letters(self, rows: pa.Table) -> pa.Array:
        sources, keys = rows["source_topic"].to_pylist(), rows["key"].to_pylist()
        flags = [
            self._claims(
                self.reader.read(original), keys[row] if keyed_by_session(sources[row]) else None
            )
            for row, original in enumerate(rows["original"].to_pylist())
        ]
        return pa.array(flags, pa.bool_())

    def _by_columns(self, rows: pa.Table) -> pa.Array:
        """Rows naming an erased user, or naming nobody in an erased session."""
        users = rows["user_id"]
        by_user = pc.fill_null(pc.is_in(users, value_set=self._erased_values(users, True)), False)
        in_session = self._erased_sessions(rows["session_id"])
        return pc.or_(by_user, pc.and_(pc.is_null(users), in_session))

    def _erased_sessions(self, sessions: pa.ChunkedArray | pa.Array) -> pa.Array:
        values = self._erased_values(sessions, False)
        return pc.fill_null(pc.is_in(sessions, value_set=values), False)

    def _erased_values(self, column: pa.ChunkedArray | pa.Array, users: bool) -> pa.Array:
        """The distinct values of a column that name an erased user (or session)."""
        erased = [
            value
            for value in pc.unique(column).to_pylist()
            if value is not None
            and (self._erased_user(value) if users else self._erased_session(value))
        ]
        return pa.array(erased, pa.string())

    def _holding_erased_feedback(self, rows: pa.Table) -> set[int]:
        """Rows of the enriched batch holding feedback an erased user gave."""
        feedback = rows["feedback"].combine_chunks()
        raters = pc.struct_field(pc.list_flatten(feedback), "rater_id")
        barred = pc.fill_null(pc.is_in(raters, value_set=self._erased_values(raters, True)), False)
        return set(pc.list_parent_indices(feedback).filter(barred).to_pylist())

    def _claims(self, ids: Identifiers | None, key_bytes: bytes | None) -> bool:
        """Whether a bytes-only row is an erased user's: by the ids it decodes to, else by its
        key (unless its bytes name a user: then it is that user's)."""
        user_id, session_id, rater_id = (
            (ids.user_id, ids.session_id, ids.rater_id) if ids is not None else (None, None, None)
        )
        erasure = self.identities.erasure_of_event(
            user_id, session_id, rater_id, session_key(key_bytes)
        )
        return erasure is not None

    def _erased_user(self, user_id: str | None) -> bool:
        return user_id is not None and self.identities.erasure_of(user_id, None) is not None

    def _erased_session(self, session_id: str) -> bool:
        return self.identities.erasure_of(None, session_id) is not None
