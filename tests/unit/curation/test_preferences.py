"""Pairs from corrections, retries and thumbs; KTO labels; splits never split a pair."""

import json
from pathlib import Path

from curation import CurationOptions, curate_preferences
from curation.writer import FILE_SPLITS
from tests.unit.curation.enriched_factory import feedback, make_turn, signal, write_enriched

PRAISE = [feedback(thumbs_up=True)]
DOWN = [feedback(thumbs_up=False)]
FAILED_TOOL = [{"name": "search", "arguments": "{}", "status": "error", "latency_ms": 3}]


def _read(out: Path, dataset: str) -> list[dict]:
    rows = []
    for split in ("train", "eval"):
        text = (out / dataset / f"{FILE_SPLITS[split]}.jsonl").read_text()
        rows += [json.loads(line) | {"_split": split} for line in text.splitlines()]
    return rows


def _run(lake: str, tmp_path: Path, **options: object) -> Path:
    result = curate_preferences(
        lake,
        CurationOptions(**{"selection": "explicit_praise", "eval_share": 0, **options}),
        output_dir=tmp_path / "out",
        overwrite=True,  # some tests curate again with other options
    )
    return result.output_dir


def test_correction_beats_the_corrected_answer(lake: str, tmp_path: Path) -> None:
    turn = make_turn(
        "s",
        response="Please contact support.",
        feedback=[feedback("correction", correction="Open Settings > Billing.")],
        reward=-0.8,
        corrected_response="Open Settings > Billing.",
    )
    write_enriched(lake, [turn])
    (pair,) = _read(_run(lake, tmp_path), "preferences")
    assert pair["pair_source"] == "correction"
    assert pair["prompt"][-1] == {"role": "user", "content": turn["prompt"]}
    assert pair["chosen"] == [{"role": "assistant", "content": "Open Settings > Billing."}]
    assert pair["rejected"] == [{"role": "assistant", "content": "Please contact support."}]
    assert pair["chosen_reward"] is None


def test_accepted_retry_beats_the_retried_attempt(lake: str, tmp_path: Path) -> None:
    first = make_turn("s", 0, session_turns=2, response="I am not sure.", reward=-0.3)
    retry = make_turn(
        "s", 1, session_turns=2, retry_of=first["event_id"], prompt=first["prompt"], feedback=PRAISE
    )
    first["signals"] = retry["signals"] = [signal("retried", first["event_id"], "client")]
    write_enriched(lake, [first, retry])
    (pair,) = _read(_run(lake, tmp_path), "preferences")
    assert pair["pair_source"] == "retry"
    assert (pair["chosen_event_id"], pair["rejected_event_id"]) == (
        retry["event_id"],
        first["event_id"],
    )
    assert pair["event_ids"] == [first["event_id"], retry["event_id"]]


def test_an_unpraised_retry_needs_the_moved_on_evidence(lake: str, tmp_path: Path) -> None:
    first = make_turn("s", 0, session_turns=3, response="I am not sure.")
    retry = make_turn("s", 1, session_turns=3, retry_of=first["event_id"], prompt=first["prompt"])
    follow_up = make_turn("s", 2, session_turns=3, prompt="Thanks, and how do I export?")
    write_enriched(lake, [first, retry, follow_up])
    assert _read(_run(lake, tmp_path), "preferences") == []
    (pair,) = _read(_run(lake, tmp_path, retry_evidence="moved_on"), "preferences")
    assert pair["chosen_event_id"] == retry["event_id"]


def test_thumbs_pairs_need_the_same_prompt_and_split(lake: str, tmp_path: Path) -> None:
    prompt = "How do I export my invoices?"
    rows = [
        make_turn("up", prompt=prompt, response="Go to Billing > Export.", feedback=PRAISE),
        make_turn(
            "down",
            prompt=prompt + "!",
            response="No idea.",
            reward=-0.8,
            feedback=DOWN,
            tools_used=FAILED_TOOL,
        ),
        make_turn(
            "elsewhere",
            prompt="Another question",
            response="x y",
            reward=-0.8,
            feedback=DOWN,
            tools_used=FAILED_TOOL,
        ),
    ]
    write_enriched(lake, rows)
    (pair,) = _read(_run(lake, tmp_path), "preferences")
    assert pair["pair_source"] == "thumbs"
    assert (pair["session_id"], pair["rejected_session_id"]) == ("up", "down")
    # With every session in its own split at random, a pair never straddles train and eval.
    for salt in ("a", "b", "c", "d", "e", "f"):
        out = _run(lake, tmp_path, eval_share=0.5, split_salt=salt)
        for pair in _read(out, "preferences"):
            from curation.split import session_split

            assert session_split(pair["rejected_session_id"], 0.5, salt) == pair["_split"]


def test_kto_labels(lake: str, tmp_path: Path) -> None:
    rows = [
        make_turn("good", feedback=PRAISE),
        make_turn(
            "corrected", response="Wrong.", reward=-0.8, corrected_response="The right answer."
        ),
        make_turn("silent", reward=0.3, reward_source="implicit", reward_confidence=0.3),
    ]
    write_enriched(lake, rows)
    kto = {
        (row["session_id"], row["answer_source"]): row["label"]
        for row in _read(_run(lake, tmp_path), "kto")
    }
    assert kto == {
        ("good", "response"): True,
        ("corrected", "correction"): True,
        ("corrected", "response"): False,
    }
