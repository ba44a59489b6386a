"""Curation against the traffic generator's ground truth, on a real Delta table on disk.

The generator knows each answer's true quality; feedback is sparse (35% of sessions) and noisy
(10% flips). The enriched table is built from its events (tests/unit/curation/generated_lake.py,
labelled by the processor's label function), with revisions and duplicate rows.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from curation import CurationOptions, curate_preferences, curate_sft
from curation.pii import find_pii
from curation.writer import FILE_SPLITS
from producers.regimes import regime_config
from producers.traffic import TrafficConfig
from tests.unit.curation.enriched_factory import write_enriched
from tests.unit.curation.generated_lake import GeneratedLake, build_generated_lake

SESSIONS = 5000
# Literal fragments of the PII the generator plants in prompts (producers/corpus.py).
PLANTED_PII = ("@example.com", "+1 415 555 ", "4111 1111 1111 ", "sk-live-")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedLake:
    lake_uri = tmp_path_factory.mktemp("lake")
    return build_generated_lake(
        lake_uri, TrafficConfig(sessions=SESSIONS, seed=20260101), batches=3
    )


def _read(directory: Path, dataset: str) -> dict[str, list[dict]]:
    return {
        split: [
            json.loads(line)
            for line in (directory / dataset / f"{FILE_SPLITS[split]}.jsonl")
            .read_text()
            .splitlines()
        ]
        for split in ("train", "eval")
    }


def _texts(messages: list[dict]) -> list[str]:
    texts = [m["content"] or "" for m in messages]
    texts += [c["function"]["arguments"] for m in messages for c in m.get("tool_calls", [])]
    return texts


def _all_turns(generated: GeneratedLake) -> list:
    return [turn for session in generated.truth.sessions.values() for turn in session.turns]


def test_sft_examples_come_from_truly_good_answers(
    generated: GeneratedLake, tmp_path: Path
) -> None:
    result = curate_sft(generated.lake_uri, CurationOptions(), output_dir=tmp_path / "sft")
    rows = _read(result.output_dir, "sft")
    examples = rows["train"] + rows["eval"]
    own = [row for row in examples if row["answer_source"] == "response"]
    corrections = [row for row in examples if row["answer_source"] == "correction"]
    good_own = sum(generated.good(row["event_ids"][-1]) for row in own)
    # The generator's correction is the good answer it would have given, so it counts as good.
    precision = (good_own + len(corrections)) / len(examples)
    own_precision = good_own / len(own)
    good_turns = sum(turn.good for turn in _all_turns(generated))
    print(
        f"\nSFT: {len(examples)} examples ({len(corrections)} corrections), precision "
        f"{precision:.3f}, on agents' own answers {own_precision:.3f}, recall of good turns "
        f"{good_own / good_turns:.3f}"
    )
    assert len(own) > 300
    assert precision >= 0.95
    assert own_precision >= 0.95
    train = {row["session_id"] for row in rows["train"]}
    held_out = {row["session_id"] for row in rows["eval"]}
    assert held_out and not train & held_out


def test_preference_pairs_point_the_right_way(generated: GeneratedLake, tmp_path: Path) -> None:
    result = curate_preferences(generated.lake_uri, CurationOptions(), output_dir=tmp_path / "p")
    rows = _read(result.output_dir, "preferences")
    pairs = rows["train"] + rows["eval"]
    right_by_source: dict[str, list[bool]] = {}
    for pair in pairs:
        chosen, rejected = pair["chosen_event_id"], pair["rejected_event_id"]
        if pair["pair_source"] == "correction":
            right = not generated.good(rejected)  # the correction is the generator's good answer
        else:
            right = generated.quality(chosen) > generated.quality(rejected)
        right_by_source.setdefault(pair["pair_source"], []).append(right)
    right = sum(sum(flags) for flags in right_by_source.values())
    precision = right / len(pairs)
    turns = _all_turns(generated)
    # Recall: of the turns with a known better answer (a correction, or the retry that followed
    # them), how many became a right pair.
    minable = sum(turn.corrected for turn in turns) + sum(turn.retried for turn in turns)
    mined = sum(right_by_source.get("correction", [])) + sum(right_by_source.get("retry", []))
    print(
        f"\npairs: {len(pairs)}, precision {precision:.3f}, recall {mined / minable:.3f} of "
        f"{minable} corrected or retried turns; by source: "
        + ", ".join(
            f"{source} {sum(flags)}/{len(flags)}"
            for source, flags in sorted(right_by_source.items())
        )
    )
    assert set(right_by_source) == {"correction", "retry", "thumbs"}
    assert precision >= 0.95
    corrected = sum(turn.corrected for turn in turns)
    assert len(right_by_source["correction"]) >= 0.9 * corrected  # corrections are all minable
    for split, other in (("train", "eval"), ("eval", "train")):
        sessions = {p["session_id"] for p in rows[split]} | {
            p["rejected_session_id"] for p in rows[split]
        }
        others = {p["session_id"] for p in rows[other]} | {
            p["rejected_session_id"] for p in rows[other]
        }
        assert not sessions & others
    kto = _read(result.output_dir, "kto")
    labels = [row["label"] for split in kto.values() for row in split]
    assert 0 < sum(labels) < len(labels)


def test_pii_is_gone_and_counted(generated: GeneratedLake, tmp_path: Path) -> None:
    planted = sum(
        any(fragment in row["prompt"] for fragment in PLANTED_PII) for row in generated.rows
    )
    assert planted > 50
    sft = curate_sft(generated.lake_uri, CurationOptions(), output_dir=tmp_path / "sft")
    prefs = curate_preferences(generated.lake_uri, CurationOptions(), output_dir=tmp_path / "p")
    texts: list[str] = []
    for row in [r for split in _read(sft.output_dir, "sft").values() for r in split]:
        texts += _texts(row["messages"])
    for dataset, fields in (
        ("preferences", ("prompt", "chosen", "rejected")),
        ("kto", ("prompt", "completion")),
    ):
        for row in [r for split in _read(prefs.output_dir, dataset).values() for r in split]:
            for field in fields:
                texts += _texts(row[field])
    assert not find_pii(pl.Series(texts)).any()
    blob = "\n".join(texts)
    assert not any(fragment in blob for fragment in PLANTED_PII)
    for manifest in (sft.manifest, prefs.manifest):
        assert all(count > 0 for count in manifest["pii_scrubbed"].values())


def test_same_version_same_bytes_even_after_new_commits(
    generated: GeneratedLake, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lake = tmp_path_factory.mktemp("copy")
    write_enriched(lake, generated.rows[: len(generated.rows) // 2])
    out = tmp_path_factory.mktemp("out")
    first = curate_sft(str(lake), CurationOptions(), output_dir=out / "a")
    write_enriched(lake, generated.rows[len(generated.rows) // 2 :])
    again = curate_sft(str(lake), CurationOptions(), output_dir=out / "b", version=0)
    latest = curate_sft(str(lake), CurationOptions(), output_dir=out / "c")
    assert first.manifest == again.manifest
    files = [path for path in first.output_dir.rglob("*") if path.is_file()]
    assert len(files) >= 6  # manifest, cards, JSONL and Parquet of both splits
    for path in files:
        twin = again.output_dir / path.relative_to(first.output_dir)
        assert path.read_bytes() == twin.read_bytes(), path
    assert latest.delta_version == 1
    assert latest.manifest["output_sha256"] != first.manifest["output_sha256"]


@dataclass(frozen=True)
class HardRegimeSft:
    """Default `curate sft` on `sarcastic` (seed 77), scored against the generator's truth."""

    precision: float
    recall: float
    estimate: dict
    own: list[dict]


@pytest.fixture(scope="module")
def sarcastic_sft(tmp_path_factory: pytest.TempPathFactory) -> HardRegimeSft:
    lake = tmp_path_factory.mktemp("lake-sarcastic")
    generated = build_generated_lake(lake, regime_config("sarcastic", sessions=3000, seed=77))
    result = curate_sft(generated.lake_uri, CurationOptions(), output_dir=lake / "sft")
    rows = _read(result.output_dir, "sft")
    examples = rows["train"] + rows["eval"]
    own = [row for row in examples if row["answer_source"] == "response"]
    good_own = sum(generated.good(row["event_ids"][-1]) for row in own)
    scored = HardRegimeSft(
        precision=(good_own + len(examples) - len(own)) / len(examples),
        recall=good_own / sum(turn.good for turn in _all_turns(generated)),
        estimate=result.manifest["datasets"]["sft"]["label_model"],
        own=own,
    )
    print(
        f"\nsarcastic: {len(examples)} examples, precision {scored.precision:.3f} (estimated "
        f"{scored.estimate['estimated_precision']}), recall {scored.recall:.3f} (estimated "
        f"{scored.estimate['estimated_recall']})"
    )
    return scored


def test_label_model_is_precise_and_says_so_in_a_hard_regime(sarcastic_sft: HardRegimeSft) -> None:
    """Default `curate sft` (label model, target precision 0.97) on a regime with half the
    answers bad and sarcastic raters: precise, every agent answer at or above the manifest's
    cut, and the manifest's estimate close to what the truth says."""
    estimate = sarcastic_sft.estimate
    assert {row["selection_rule"] for row in sarcastic_sft.own} == {
        f"label_model:p>={estimate['accept_at_or_above']:.4f}"
    }
    assert all(
        row["label_probability"] >= estimate["accept_at_or_above"] - 1e-6
        for row in sarcastic_sft.own
    )
    assert sarcastic_sft.precision >= 0.97
    assert abs(estimate["estimated_precision"] - sarcastic_sft.precision) <= 0.03


@pytest.mark.xfail(
    strict=True,
    reason="recall 0.288 < 0.30 (estimated 0.293): `sarcastic` is at the limit of its evidence "
    "(docs/labels.md, Measured per regime)",
)
def test_label_model_keeps_30_percent_of_good_turns_in_a_hard_regime(
    sarcastic_sft: HardRegimeSft,
) -> None:
    assert sarcastic_sft.recall >= 0.30
