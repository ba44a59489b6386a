"""Bad records for tests of the dead-letter path, each with the reason the pipeline must give."""

import random
import uuid
from collections.abc import Callable

from schemas.serializer import HEADER_SIZE, MARKER, serializer_for
from schemas.topics import FEEDBACK, INPUT_TOPICS, INTERACTIONS, TopicSpec

__all__ = ["BAD_RECORD_KINDS", "BadRecord", "make_bad_record"]

BadRecord = tuple[TopicSpec, bytes | None, bytes, str]  # topic, key, value, expected reason


def _fake_interaction(
    rng: random.Random, session_id: str, text_size: int = 200
) -> dict[str, object]:
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": session_id,
        "turn_index": 0,
        "agent_id": "support-bot",
        "agent_version": "1.4.0",
        "model": "acme-llm-large",
        "event_time": 1_767_225_600_000,
        "prompt": "x" * text_size,
        "response": "y" * 50,
        "latency_ms": 10,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "cost_usd": 0.0,
    }


def _garbage(rng: random.Random, session: str, _size: int) -> BadRecord:
    topic = rng.choice(INPUT_TOPICS)
    # Never the single-object marker's first byte, so the reason is always `undecodable`.
    value = bytes([rng.randrange(0xC3)]) + rng.randbytes(rng.randint(0, 400))
    return topic, session.encode(), value, "undecodable"


def _truncated(rng: random.Random, session: str, _size: int) -> BadRecord:
    full = serializer_for(INTERACTIONS).encode(_fake_interaction(rng, session))
    cut = rng.randint(HEADER_SIZE + 1, len(full) - 1)
    return INTERACTIONS, session.encode(), full[:cut], "undecodable"


def _invalid_utf8(rng: random.Random, session: str, _size: int) -> BadRecord:
    full = bytearray(serializer_for(INTERACTIONS).encode(_fake_interaction(rng, session)))
    # The prompt is a run of b"x": corrupt one byte inside it into an invalid UTF-8 lead byte.
    position = bytes(full).index(b"x" * 20) + 5
    full[position] = 0xFF
    return INTERACTIONS, session.encode(), bytes(full), "undecodable"


def _unknown_fingerprint(rng: random.Random, session: str, _size: int) -> BadRecord:
    body = serializer_for(INTERACTIONS).encode(_fake_interaction(rng, session))[HEADER_SIZE:]
    return INTERACTIONS, session.encode(), MARKER + rng.randbytes(8) + body, "unknown_fingerprint"


def _wrong_schema(rng: random.Random, session: str, _size: int) -> BadRecord:
    feedback = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": session,
        "event_time": 1_767_225_600_000,
        "kind": "thumbs",
        "thumbs_up": True,
        "source": "end_user",
    }
    return INTERACTIONS, session.encode(), serializer_for(FEEDBACK).encode(feedback), "wrong_schema"


def _missing_key(rng: random.Random, session: str, _size: int) -> BadRecord:
    value = serializer_for(INTERACTIONS).encode(_fake_interaction(rng, session))
    return INTERACTIONS, None, value, "missing_key"


def _schema_invalid(rng: random.Random, session: str, _size: int) -> BadRecord:
    feedback = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "session_id": session,
        "event_time": 1_767_225_600_000,
        "kind": "rating",
        "rating": rng.choice((0, 6, 9, -3)),
        "source": "end_user",
    }
    return FEEDBACK, session.encode(), serializer_for(FEEDBACK).encode(feedback), "schema_invalid"


def _oversized(rng: random.Random, session: str, size: int) -> BadRecord:
    value = serializer_for(INTERACTIONS).encode(_fake_interaction(rng, session, text_size=size))
    return INTERACTIONS, session.encode(), value, "oversized"


BAD_RECORD_KINDS: dict[str, Callable[[random.Random, str, int], BadRecord]] = {
    "garbage": _garbage,
    "truncated": _truncated,
    "invalid_utf8": _invalid_utf8,
    "unknown_fingerprint": _unknown_fingerprint,
    "wrong_schema": _wrong_schema,
    "missing_key": _missing_key,
    "schema_invalid": _schema_invalid,
    "oversized": _oversized,
}


def make_bad_record(rng: random.Random, kind: str, oversized_bytes: int) -> BadRecord:
    """A bad record of `kind` for a session that exists nowhere else (it never joins real state)."""
    session = f"bad-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    return BAD_RECORD_KINDS[kind](rng, session, oversized_bytes)
