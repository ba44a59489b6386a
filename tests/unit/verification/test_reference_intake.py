"""The reference's intake: schema_invalid, future_event_time, reserved_source, own signals."""

import uuid

from verification.events import INFERRED_NAMESPACE, inferred_abandoned_id
from verification.reference import ReferenceConfig, expected_results

from .factory import T0, Events

CONFIG = ReferenceConfig()
SKEW = CONFIG.max_future_skew_ms


def test_event_time_more_than_the_skew_after_the_kafka_timestamp_is_refused() -> None:
    ev = Events()
    sent = 1_000_000  # the Kafka timestamp, T0 + 1000 s
    allowed = ev.turn("s", sent + SKEW, timestamp=T0 + sent)
    future = ev.feedback("s", sent + SKEW + 1, timestamp=T0 + sent)
    results = expected_results(ev.events, CONFIG)

    assert allowed["event_id"] in results.turns
    assert results.dead_letter_reasons() == {future["event_id"]: "future_event_time"}
    # A refused event is not joined, not counted, and does not close anything.
    assert results.turns[allowed["event_id"]].record["feedback"] == []


def test_inferred_signals_other_than_the_processors_own_are_reserved_source() -> None:
    ev = Events()
    turn = ev.turn("s", 0)
    own_id = inferred_abandoned_id("s", T0 + 1_000)
    own = ev.signal("s", 1_000, "abandoned", source="inferred", event_id=own_id)
    # The id the processor gave until 6 Dec (the session id alone): its own too.
    legacy_id = str(uuid.uuid5(INFERRED_NAMESPACE, "s/abandoned"))
    legacy = ev.signal("s", 1_500, "abandoned", source="inferred", event_id=legacy_id)
    # An own id, but of another close time: not the processor's.
    moved_id = inferred_abandoned_id("s", T0)
    moved = ev.signal("s", 2_500, "abandoned", source="inferred", event_id=moved_id)
    fake_close = ev.signal("s", 2_000, "task_completed", source="inferred")
    other_id = ev.signal("s", 3_000, "abandoned", source="inferred")
    results = expected_results(ev.events, CONFIG)

    assert results.dead_letter_reasons() == {
        fake_close["event_id"]: "reserved_source",
        other_id["event_id"]: "reserved_source",
        moved["event_id"]: "reserved_source",
    }
    record = results.turns[turn["event_id"]].record
    # The own signal read back is skipped: the session is abandoned by the reference itself.
    assert record["session_outcome"] == "abandoned"
    assert record["session_closed_at"] == turn["event_time"] + CONFIG.abandon_after_ms
    assert own["event_id"] not in {d.event_id for d in results.dead_letters}
    assert legacy["event_id"] not in {d.event_id for d in results.dead_letters}


def test_semantically_invalid_records_are_schema_invalid() -> None:
    ev = Events()
    good = ev.turn("s", 0)
    wrong_key = ev.turn("s", 1, key=b"other")
    negative = ev.turn("s", 2, latency_ms=-1)
    bad_rating = ev.feedback("s", 3, kind="rating", rating=6, thumbs_up=None)
    no_thumb = ev.feedback("s", 4, thumbs_up=None)
    no_rating = ev.feedback("s", 5, kind="rating", thumbs_up=None)
    empty_id = ev.signal("s", 6, "task_completed", event_id="")
    results = expected_results(ev.events, CONFIG)

    invalid = {d.offset for d in results.dead_letters if d.reason == "schema_invalid"}
    assert invalid == {1, 2, 3, 4, 5, 6}
    assert results.dead_letter_reasons()[wrong_key["event_id"]] == "schema_invalid"
    assert {negative["event_id"], bad_rating["event_id"], no_thumb["event_id"]} <= set(
        results.dead_letter_reasons()
    )
    assert no_rating["event_id"] in results.dead_letter_reasons()
    assert empty_id["event_id"] == "" and results.dead_letters[-1].event_id is None
    assert results.turns[good["event_id"]].record["session_outcome"] == "abandoned"
