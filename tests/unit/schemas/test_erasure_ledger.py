"""The ledger's identities and the check of messages against them (no services)."""

import hashlib

from schemas import serializer_for
from schemas.erased_messages import ErasedMessages
from schemas.erasure_ledger import ErasedIdentities, LedgerEntry, ledger_paths, salted_sha256
from schemas.topics import FEEDBACK, INTERACTIONS, session_key
from tests.unit.sinks.events import START_MS, feedback, interaction

SALT = "5a17"


def _entry(user: str, *sessions: str, erasure_id: str = "e1", salt: str = SALT) -> LedgerEntry:
    return LedgerEntry(
        erasure_id,
        salt,
        salted_sha256(salt, user),
        frozenset(salted_sha256(salt, s) for s in sessions),
    )


def test_an_unsalted_record_is_the_plain_sha256_of_the_id() -> None:
    assert salted_sha256("", "u-42") == hashlib.sha256(b"u-42").hexdigest()
    assert salted_sha256(SALT, "u-42") != salted_sha256("", "u-42")


def test_identities_match_exact_ids_only() -> None:
    erased = ErasedIdentities((_entry("u-42", "s-42-a"),))
    assert erased.erasure_of("u-42", None) == "e1"
    assert erased.erasure_of(None, "s-42-a") == "e1"
    assert erased.erasure_of("u-420", "s-420-a") is None
    assert erased.erasure_of("u-4", "s-42") is None


def test_a_record_naming_another_user_is_not_taken_with_a_shared_session() -> None:
    erased = ErasedIdentities((_entry("u-42", "s-group"),))
    assert erased.erasure_of("u-7", "s-group") is None  # u-7's turn in u-42's group chat
    assert erased.erasure_of(None, "s-group") == "e1"  # its feedback and signals: nobody named
    assert erased.erasure_of("u-42", "s-other") == "e1"


def test_an_event_is_covered_by_its_user_else_its_session_or_key_and_by_its_rater() -> None:
    """`erasure_of_event`: the one rule the sink's gate, replays and the processor apply."""
    erased = ErasedIdentities((_entry("u-42", "s-group"),))
    covered = [
        ("u-42", "s-any", None, None),  # the user's turn anywhere
        (None, "s-group", None, None),  # nobody named, in the user's session
        (None, "s-420", "u-42", None),  # feedback the user gave in another's session
        (None, None, None, "s-group"),  # bytes that did not decode, keyed by the session
    ]
    kept = [
        ("u-7", "s-group", None, None),  # another user's turn in the shared session
        ("u-7", None, None, "s-group"),  # the key does not outweigh a named user
        (None, "s-420", "r-7", "s-420"),
        (None, None, None, None),
    ]
    assert [erased.erasure_of_event(*ids) for ids in covered] == ["e1"] * len(covered)
    assert [erased.erasure_of_event(*ids) for ids in kept] == [None] * len(kept)
    assert session_key(b"s-group") == "s-group"
    assert [session_key(k) for k in (None, b"", b"\xff\xfe")] == [None, None, None]


def test_rows_of_one_erasure_make_one_entry_and_old_rows_have_no_salt() -> None:
    rows = [
        {
            "erasure_id": "e1",
            "user_id_sha256": salted_sha256(SALT, "a"),
            "id_salt": SALT,
            "session_ids_sha256": [salted_sha256(SALT, "s-a")],
        },
        {
            "erasure_id": "e1",
            "user_id_sha256": salted_sha256(SALT, "a"),
            "id_salt": SALT,
            "session_ids_sha256": [salted_sha256(SALT, "s-a")],
        },
        {"erasure_id": "old", "user_id_sha256": hashlib.sha256(b"b").hexdigest()},
    ]
    rows[0]["turn_ids_sha256"] = [salted_sha256(SALT, "t-1")]
    erased = ErasedIdentities.from_rows(rows)
    assert len(erased) == 2
    assert erased.erasure_of_turn("t-1") == "e1" and erased.erasure_of_turn("t-2") is None
    assert erased.erasure_of("b", None) == "old" and erased.erasure_of(None, "s-a") == "e1"
    assert erased.for_user("b").entries == (erased.entries[1],)


def test_ledger_paths_are_the_live_lake_and_the_namespace() -> None:
    assert ledger_paths("/lake/", "", "ns/", "ns/") == ["/lake/erasures", "/lake/ns/erasures"]


def test_messages_are_recognised_by_user_session_or_key() -> None:
    check = ErasedMessages(ErasedIdentities((_entry("u-42", "s-42-a"),)))
    mine = serializer_for(INTERACTIONS).encode(interaction("s-42-new", 0, "u-42", START_MS))
    theirs = serializer_for(INTERACTIONS).encode(interaction("s-420-a", 0, "u-420", START_MS))
    session_only = serializer_for(FEEDBACK).encode(feedback("s-42-a", None, START_MS))
    assert check.erased(b"s-42-new", mine)
    assert check.erased(None, session_only)
    assert check.erased(b"s-42-a", b"\x00undecodable")
    assert not check.erased(b"s-420-a", theirs)
    assert not check.erased(None, b"\x00undecodable u-42 s-42-a")
    assert check.skipped == 3


def test_an_empty_ledger_decodes_nothing() -> None:
    check = ErasedMessages(ErasedIdentities())
    assert not check.erased(b"s-42-a", b"anything") and check.skipped == 0


def test_a_message_of_another_user_in_an_erased_session_is_replayed() -> None:
    check = ErasedMessages(ErasedIdentities((_entry("u-42", "s-group"),)))
    theirs = serializer_for(INTERACTIONS).encode(interaction("s-group", 1, "u-7", START_MS))
    session_only = serializer_for(FEEDBACK).encode(feedback("s-group", None, START_MS))
    assert not check.erased(b"s-group", theirs)
    assert check.erased(b"s-group", session_only)
    assert check.erased(b"s-group", b"\x00undecodable")
    assert check.skipped == 2


def test_feedback_the_erased_user_gave_in_another_session_is_skipped() -> None:
    check = ErasedMessages(ErasedIdentities((_entry("u-42", "s-42-a"),)))
    given = {**feedback("s-7-a", None, START_MS), "rater_id": "u-42"}
    by_other = {**feedback("s-7-a", None, START_MS), "rater_id": "u-7"}
    assert check.erased(b"s-7-a", serializer_for(FEEDBACK).encode(given))
    assert not check.erased(b"s-7-a", serializer_for(FEEDBACK).encode(by_other))
