"""Datasets in the HuggingFace layout: a folder per kind with train/test, a card, tool calls in
the OpenAI/TRL shape, namespaced default paths, and no silent overwrite. `datasets` itself
loads every kind, offline."""

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # read at import: set before `datasets`
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml
from typer.testing import CliRunner

from curation import CurationOptions, curate_preferences, curate_sft
from curation.chat import tool_specs
from curation.dataset_card import features_yaml
from curation.exceptions import OutputNotEmptyError
from curation.kto import KTO_SCHEMA
from curation.preferences import PAIR_SCHEMA
from curation.sft import SFT_SCHEMA
from curation.writer import TOOLS_FIELD, dataset_and_split
from feedbackctl.main import app
from tests.unit.curation.enriched_factory import feedback, make_turn, write_enriched

TOOLS = [
    {
        "name": "search",
        "arguments": '{"query": "reset", "limit": 3}',
        "status": "ok",
        "latency_ms": 5,
    },
    {
        "name": "ticket",
        "arguments": '{"id": 7, "urgent": true}',
        "status": "error",
        "latency_ms": 9,
    },
]


def _lake(root: str | Path) -> None:
    rows = [
        make_turn(
            f"s{i}",
            t,
            session_turns=2,
            tools_used=TOOLS if t == 0 else [],
            feedback=[feedback(thumbs_up=i % 4 != 0, seed=f"{root}{i}{t}")],
            corrected_response=("A better answer." if i % 5 == 0 else None),
        )
        for i in range(80)
        for t in range(2)
    ]
    write_enriched(root, rows)


def _load(path: Path, cache: Path, name: str | None = None) -> datasets.DatasetDict:
    loaded = datasets.load_dataset(str(path), name, cache_dir=str(cache))
    assert isinstance(loaded, datasets.DatasetDict)
    return loaded


def _calls(example: dict[str, Any]) -> list[dict[str, Any]]:
    messages = [m for col in ("messages", "prompt", "chosen", "rejected", "completion")
                for m in (example.get(col) or [])]  # fmt: skip
    return [call for m in messages for call in (m.get("tool_calls") or [])]


def test_every_kind_loads_by_folder_with_train_and_test(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    # The explicit-praise rules: this hand-made lake praises corrected answers, which the label
    # model (rightly) doubts, leaving no pairs to load.
    options = CurationOptions(
        selection="explicit_praise", eval_share=0.5, drop_tool_errors=False, dedup="exact"
    )
    sft = curate_sft(lake, options, output_root=tmp_path / "out").output_dir
    prefs = curate_preferences(lake, options, output_root=tmp_path / "out").output_dir
    folders = {"sft": sft / "sft", "preferences": prefs / "preferences", "kto": prefs / "kto"}
    for kind, folder in folders.items():
        loaded = _load(folder, tmp_path / "hf")
        assert set(loaded) == {"train", "test"}, kind
        manifest = json.loads((folder.parent / "manifest.json").read_text())
        rows = manifest["datasets"][kind]["rows"]
        assert (loaded["train"].num_rows, loaded["test"].num_rows) == (rows["train"], rows["eval"])
        assert loaded["train"].num_rows > 0, kind
        # the dataset folder's card names each kind as a config
        assert _load(folder.parent, tmp_path / "hf", kind)["train"].num_rows == rows["train"]
    sft_rows = _load(folders["sft"], tmp_path / "hf")["train"]
    with_tools = [row for row in sft_rows if _calls(row)]
    assert with_tools, "a turn with tool calls made an example"
    call = _calls(with_tools[0])[0]
    assert call["type"] == "function"
    assert call["function"]["arguments"] == {"query": "reset", "limit": 3}  # an object
    names = [spec["function"]["name"] for spec in with_tools[0]["tools"]]
    assert names == ["search", "ticket"]
    assert with_tools[0]["tools"][1]["function"]["parameters"]["properties"] == {
        "id": {"type": "integer"},
        "urgent": {"type": "boolean"},
    }


def test_jsonl_keeps_the_openai_shape(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    options = CurationOptions(eval_share=0, drop_tool_errors=False)
    out = curate_sft(lake, options, output_dir=tmp_path / "o").output_dir
    rows = [json.loads(line) for line in (out / "sft" / "train.jsonl").read_text().splitlines()]
    row = next(r for r in rows if _calls(r))
    assert isinstance(_calls(row)[0]["function"]["arguments"], str)  # OpenAI: JSON text
    assert isinstance(row["tools"], list) and row["tools"][0]["type"] == "function"


def test_the_card_holds_configs_and_the_manifests_facts(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    options = CurationOptions(selection="explicit_praise", eval_share=0.5)  # see above: pairs
    out = curate_preferences(lake, options, output_dir=tmp_path / "o")
    text = (out.output_dir / "README.md").read_text()
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert [c["config_name"] for c in meta["configs"]] == ["preferences", "kto"]
    assert meta["configs"][1]["data_files"] == [
        {"split": "train", "path": "kto/train.parquet"},
        {"split": "test", "path": "kto/test.parquet"},
    ]
    assert f"at version {out.delta_version}" in body
    assert out.manifest["output_sha256"] in body
    kind_card = yaml.safe_load((out.output_dir / "kto" / "README.md").read_text().split("---\n")[1])
    assert kind_card["configs"][0]["config_name"] == "default"


@pytest.mark.parametrize(
    "schema", [SFT_SCHEMA, PAIR_SCHEMA, KTO_SCHEMA], ids=["sft", "pairs", "kto"]
)
def test_card_features_are_what_datasets_writes_for_the_schema(schema: Any) -> None:
    features = datasets.Features.from_arrow_schema(schema.append(TOOLS_FIELD))
    expected = datasets.DatasetInfo(features=features)._to_yaml_dict()["features"]
    ours = features_yaml(schema.append(TOOLS_FIELD))
    ours_as_strings = json.loads(json.dumps(ours).replace('"dtype": "json"', '"dtype": "string"'))
    assert ours_as_strings == expected
    assert '"dtype": "json"' in json.dumps(ours)


def test_default_paths_include_the_namespace(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    for namespace in ("team-a", "team-b"):
        _lake(root / namespace)
    out = tmp_path / "out"
    a = curate_sft(str(root), CurationOptions(), output_root=out, prefix="team-a/")
    b = curate_sft(str(root), CurationOptions(), output_root=out, prefix="team-b/")
    assert a.output_dir == out / "team-a" / "sft-v0"
    assert b.output_dir == out / "team-b" / "sft-v0"
    assert (a.output_dir / "manifest.json").exists() and (b.output_dir / "manifest.json").exists()


def test_a_second_curate_into_the_folder_refuses_unless_overwrite(
    lake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lake(lake)
    first = curate_sft(lake, CurationOptions(), output_root=tmp_path)
    before = (first.output_dir / "manifest.json").read_bytes()
    with pytest.raises(OutputNotEmptyError, match="--overwrite"):
        curate_sft(lake, CurationOptions(), output_root=tmp_path)
    assert (first.output_dir / "manifest.json").read_bytes() == before

    monkeypatch.setenv("FEEDBACK_CURATION_OUTPUT_ROOT", str(tmp_path))
    runner = CliRunner()
    refused = runner.invoke(app, ["curate", "sft", "--lake-uri", lake])
    assert refused.exit_code == 1
    assert "already holds a dataset" in refused.output
    stray = first.output_dir / "sft" / "stale.txt"
    stray.write_text("from an older run")
    replaced = runner.invoke(app, ["curate", "sft", "--lake-uri", lake, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert not stray.exists()  # the old dataset was replaced, not merged into
    assert (first.output_dir / "manifest.json").read_bytes() == before  # same version, same bytes


def test_a_folder_that_is_not_a_dataset_is_never_replaced(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputNotEmptyError, match="not a dataset"):
        curate_sft(lake, CurationOptions(), output_dir=tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_tool_specs_union_the_calls_by_name() -> None:
    calls = [
        {"function": {"name": "b", "arguments": '{"x": 1}'}},
        {"function": {"name": "a", "arguments": "not json"}},
        {"function": {"name": "b", "arguments": '{"x": "one", "y": [1]}'}},
    ]
    specs = tool_specs([{"role": "assistant", "tool_calls": calls}, {"role": "user"}])
    assert [s["function"]["name"] for s in specs] == ["a", "b"]
    assert specs[0]["function"]["parameters"]["properties"] == {}
    assert specs[1]["function"]["parameters"]["properties"] == {
        "x": {"type": ["integer", "string"]},
        "y": {"type": "array"},
    }


def test_file_paths_name_their_kind_and_split() -> None:
    assert dataset_and_split("kto/test") == ("kto", "eval")
    assert dataset_and_split("sft/train") == ("sft", "train")
    assert dataset_and_split("preferences-eval") == ("preferences", "eval")  # older layout


def test_an_empty_split_is_left_out_of_the_configs(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    out = curate_sft(lake, CurationOptions(eval_share=0), output_dir=tmp_path / "o").output_dir
    assert (out / "sft" / "test.parquet").exists()  # written, listed in the manifest
    card = yaml.safe_load((out / "sft" / "README.md").read_text().split("---\n")[1])
    assert card["configs"][0]["data_files"] == [{"split": "train", "path": "train.parquet"}]
    assert set(_load(out / "sft", tmp_path / "hf")) == {"train"}
