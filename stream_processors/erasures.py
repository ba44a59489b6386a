"""`ProcessorErasures`: the worker forgets what `feedbackctl lake erase` erased.

The lake's erasure deletes rows, but the processor holds copies of its own: a session's turns
(prompts, answers, context), feedback and signals stay in its Redis state until the session's
grace period ends (`feedback_grace_s`, 6 hours after the close), and late feedback on an erased
turn in that time emitted a new revision of it, the user's prompt and answer included, to the
enriched topic. So the worker follows the erasure ledgers of its lake and namespace
(`schemas.erasure_ledger`, the contract the sink's gate and replays read too) and:

- removes from its sessions what the lake's erasure deletes (`ErasedIdentities.
  erasure_of_event`): the erased user's turns, the feedback they gave anywhere, and what
  names nobody (feedback, signals) in a session the ledger names. A session left with
  nothing goes with all its persisted entries (deleted from Redis at the next checkpoint); so
  does one whose closed use held the user's turn (its outputs are out). An open session shared
  with other users (a group chat, one session id for everyone) keeps their turns, which are
  enriched at its close without the user's events, as a replay enriches them
  (`Session.drop_erased`);
- drops, as they arrive, the events an erasure covers, by the same rule, and undecodable
  messages keyed by an erased session: their offsets are checkpointed, nothing is emitted, not
  even a dead letter.

Counted in the worker's stats (`erased_events`, `erased_sessions`).
"""

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.erasure_ledger import ErasedIdentities, LedgerFollower
from schemas.topics import session_key
from stream_processors.settings import ProcessorSettings

__all__ = ["ProcessorErasures"]

log = logging.getLogger(__name__)


@dataclass
class ProcessorErasures:
    """The erasures of the worker's ledgers, and which sessions and events they cover."""

    follower: LedgerFollower | None
    interval_s: float
    _checked_at: float = field(default=float("-inf"), repr=False)

    @classmethod
    def from_settings(cls, settings: ProcessorSettings) -> "ProcessorErasures":
        follower = None
        if settings.lake_uri:
            follower = LedgerFollower(
                settings.lake_uri, settings.table_prefix, dict(settings.lake_storage_options)
            )
        return cls(follower, settings.erasure_check_interval_s)

    @property
    def identities(self) -> ErasedIdentities:
        return self.follower.identities if self.follower is not None else ErasedIdentities()

    async def poll(self) -> bool:
        """Look at the ledgers if `interval_s` passed since the last look; True when they hold
        erasures not seen before (then forget the sessions they cover). A ledger that cannot
        be read keeps the erasures read before, and is read again at the next look."""
        follower = self.follower
        if follower is None or time.monotonic() - self._checked_at < self.interval_s:
            return False
        first = self._checked_at == float("-inf")
        self._checked_at = time.monotonic()
        known = len(follower.identities)
        try:
            changed = await asyncio.to_thread(follower.refresh)
        except Exception as exc:  # an unreachable store must not stop the worker
            log.warning("erasure ledgers under %s unreadable: %s", follower.lake_uri, exc)
            return False
        if first:  # says where it looks: a worker pointed at another lake erases nothing
            log.info(
                "following the erasure ledgers of %s (namespace prefix %r): %d erasures",
                follower.lake_uri,
                follower.table_prefix,
                len(follower.identities),
            )
        if changed and len(follower.identities) != known:
            log.info("erasure ledgers read: %d erasures", len(follower.identities))
        return changed and bool(follower.identities)

    def covers_record(self, record: Mapping[str, Any]) -> bool:
        """A decoded event the lake's erasure would delete (`ErasedIdentities.erasure_of_event`)."""
        identities = self.identities
        if not identities:
            return False
        erasure = identities.erasure_of_event(
            record.get("user_id"), record["session_id"], record.get("rater_id")
        )
        return erasure is not None

    def covers_key(self, key: bytes | None) -> bool:
        """An undecodable message keyed by an erased session (input topics are keyed by it)."""
        identities = self.identities
        if not identities:
            return False
        return identities.erasure_of_event(None, None, keyed_session=session_key(key)) is not None
