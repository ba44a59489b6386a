"""SFT examples: message shape, tool calls, history, corrections, lineage, dedup, session unit."""

import json
from pathlib import Path

from curation import CurationOptions, curate_sft
from curation.writer import FILE_SPLITS
from tests.unit.curation.enriched_factory import (
    feedback,
    make_turn,
    write_enriched,
    write_raw_events,
)

PRAISE = [feedback(thumbs_up=True)]
TOOL = {"name": "lookup_account", "arguments": '{"email": "ann@example.com"}', "latency_ms": 40}


def _rows(out: Path, split: str = "train") -> list[dict]:
    text = (out / "sft" / f"{FILE_SPLITS[split]}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def _all_rows(out: Path) -> list[dict]:
    return _rows(out, "train") + _rows(out, "eval")


def test_per_turn_example_has_system_history_tools_and_answer(lake: str, tmp_path: Path) -> None:
    first = make_turn("s", 0, session_turns=2, feedback=[], reward=0.2)
    second = make_turn(
        "s",
        1,
        session_turns=2,
        feedback=PRAISE,
        tools_used=[{**TOOL, "status": "ok"}],
        kafka_partition=3,
        kafka_offset=41,
    )
    write_enriched(lake, [first, second])
    result = curate_sft(
        lake,
        CurationOptions(selection="explicit_praise", eval_share=0),
        output_dir=tmp_path / "out",
    )
    (row,) = _rows(result.output_dir)
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "tool", "assistant"]
    history_answer, call, tool, answer = row["messages"][2], *row["messages"][4:]
    assert history_answer["weight"] == 0
    assert call["content"] is None and call["tool_calls"][0]["function"]["name"] == "lookup_account"
    assert "[EMAIL]" in call["tool_calls"][0]["function"]["arguments"]
    assert tool["tool_call_id"] == call["tool_calls"][0]["id"]
    assert json.loads(tool["content"]) == {"status": "ok"}
    assert answer == {"role": "assistant", "content": second["response"]}
    assert row["event_ids"] == [first["event_id"], second["event_id"]]
    assert row["kafka_coordinates"][1] == {
        "event_id": second["event_id"],
        "topic": "agent.sessions.enriched.v1",
        "partition": 3,
        "offset": 41,
        "interaction_topic": None,  # filled from raw_events only with raw lineage
        "interaction_partition": None,
        "interaction_offset": None,
    }
    assert (row["session_id"], row["delta_version"]) == ("s", 0)


def test_a_correction_becomes_an_example_with_the_corrected_answer(
    lake: str, tmp_path: Path
) -> None:
    turn = make_turn(
        "s",
        feedback=[feedback("correction", correction="Use the reset link.")],
        reward=-0.8,
        corrected_response="Use the reset link.",
        tools_used=[{**TOOL, "status": "error"}],
    )
    write_enriched(lake, [turn])
    out = curate_sft(
        lake, CurationOptions(selection="explicit_praise", eval_share=0), output_dir=tmp_path / "a"
    ).output_dir
    (row,) = _rows(out)
    assert row["answer_source"] == "correction"
    assert row["messages"][-1] == {"role": "assistant", "content": "Use the reset link."}
    assert all(m["role"] != "tool" for m in row["messages"])
    options = CurationOptions(selection="explicit_praise", eval_share=0, include_corrections=False)
    out = curate_sft(lake, options, output_dir=tmp_path / "b").output_dir
    assert _rows(out) == []


def test_exact_and_near_duplicates_keep_the_best(lake: str, tmp_path: Path) -> None:
    base = {"feedback": PRAISE, "prompt": "Where is order #123?"}
    rows = [
        make_turn("a", **base, reward=0.7),
        make_turn("b", **base, reward=0.9),
        make_turn("c", **{**base, "prompt": "where is ORDER 999"}, reward=0.8),
        make_turn("d", feedback=PRAISE, prompt="Something else entirely"),
    ]
    write_enriched(lake, rows)
    result = curate_sft(
        lake,
        CurationOptions(selection="explicit_praise", eval_share=0),
        output_dir=tmp_path / "near",
    )
    kept = sorted(row["session_id"] for row in _all_rows(result.output_dir))
    assert kept == ["b", "d"]
    steps = {step["name"]: step["dropped"] for step in result.manifest["filters"]}
    assert (steps["exact_dedup"], steps["near_dedup"]) == (1, 1)  # a = b exactly; c near b
    exact = CurationOptions(selection="explicit_praise", eval_share=0, dedup="exact")
    out = curate_sft(lake, exact, output_dir=tmp_path / "exact").output_dir
    assert sorted(row["session_id"] for row in _all_rows(out)) == ["b", "c", "d"]


def test_session_unit_needs_every_turn_accepted(lake: str, tmp_path: Path) -> None:
    good = [make_turn("good", i, session_turns=2, feedback=PRAISE) for i in range(2)]
    mixed = [
        make_turn("mixed", 0, session_turns=2, feedback=PRAISE),
        make_turn("mixed", 1, session_turns=2, feedback=[]),
    ]
    write_enriched(lake, [*good, *mixed])
    options = CurationOptions(selection="explicit_praise", eval_share=0, unit="session")
    (row,) = _rows(curate_sft(lake, options, output_dir=tmp_path / "o").output_dir)
    assert row["id"] == "good"
    assistant = [m for m in row["messages"] if m["role"] == "assistant"]
    assert len(assistant) == 2 and all("weight" not in m for m in assistant)


def test_session_unit_takes_a_resumed_conversation_whole(lake: str, tmp_path: Path) -> None:
    """A user back after the close makes a second session under the same id (each with
    `session_turns` 1), and an example's history holds both. Both accepted: one example with
    both answers (it was left out). The first one abandoned: no example (it trained on the
    abandoned session's answer, which no filter had passed)."""
    first = make_turn("resumed", 0, feedback=PRAISE)
    second = make_turn(
        "resumed", 1, feedback=PRAISE, session_closed_at=first["session_closed_at"] + 900_000
    )
    dropped = make_turn("dropped", 0, feedback=PRAISE, session_outcome="abandoned")
    again = make_turn("dropped", 1, feedback=PRAISE, session_closed_at=second["session_closed_at"])
    write_enriched(lake, [first, second, dropped, again])
    options = CurationOptions(selection="explicit_praise", eval_share=0, unit="session")
    (row,) = _rows(curate_sft(lake, options, output_dir=tmp_path / "o").output_dir)
    assert row["id"] == "resumed"
    assert row["event_ids"] == [first["event_id"], second["event_id"]]
    assert len([m for m in row["messages"] if m["role"] == "assistant"]) == 2


def test_no_session_in_both_splits(lake: str, tmp_path: Path) -> None:
    rows = [
        make_turn(f"s{i}", t, session_turns=3, feedback=PRAISE, prompt=f"question {i} {t} x")
        for i in range(60)
        for t in range(3)
    ]
    write_enriched(lake, rows)
    out = curate_sft(
        lake,
        CurationOptions(selection="explicit_praise", eval_share=0.3, dedup="exact"),
        output_dir=tmp_path / "o",
    )
    train = {row["session_id"] for row in _rows(out.output_dir, "train")}
    held = {row["session_id"] for row in _rows(out.output_dir, "eval")}
    assert train and held and not train & held


def test_raw_lineage_adds_the_original_interaction_coordinates(lake: str, tmp_path: Path) -> None:
    turn = make_turn("s", feedback=PRAISE)
    write_enriched(lake, [turn])
    raw_row = {
        "value": b"...",
        "key": b"s",
        "record_name": "agentfeedback.events.Interaction",
        "schema_fingerprint": "00",
        "event_id": turn["event_id"],
        "session_id": "s",
        "user_id": None,
        "event_time": turn["event_time"],
        "decode_error": None,
        "kafka_topic": "agent.interactions.v1",
        "kafka_partition": 4,
        "kafka_offset": 1234,
        "kafka_timestamp": turn["event_time"],
        "event_date": turn["event_date"],
    }
    duplicate = {**raw_row, "kafka_offset": 1240}  # a producer retry, received later
    write_raw_events(lake, [duplicate, raw_row])
    result = curate_sft(
        lake,
        CurationOptions(selection="explicit_praise", eval_share=0),
        output_dir=tmp_path / "o",
        raw_lineage=True,
    )
    (row,) = _rows(result.output_dir)
    coordinates = row["kafka_coordinates"][0]
    assert (
        coordinates["interaction_topic"],
        coordinates["interaction_partition"],
        coordinates["interaction_offset"],
    ) == ("agent.interactions.v1", 4, 1234)
    assert result.manifest["source"]["raw_events"]["delta_version"] == 0
