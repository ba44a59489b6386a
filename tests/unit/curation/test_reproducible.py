"""Same Delta version, same bytes; the manifest describes the files it sits beside."""

import hashlib
import json
from pathlib import Path

from curation import CurationOptions, CurationResult, curate_preferences, curate_sft
from curation.writer import WrittenFile, dataset_digest
from tests.unit.curation.enriched_factory import feedback, make_turn, write_enriched


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _lake(lake: str) -> None:
    rows = [
        make_turn(
            f"s{i}",
            t,
            session_turns=2,
            feedback=[feedback(thumbs_up=True, seed=f"{i}{t}")],
            prompt=f"Question {i}-{t} from jane@example.com",
            corrected_response=("A better answer." if i % 5 == 0 else None),
        )
        for i in range(40)
        for t in range(2)
    ]
    write_enriched(lake, rows[:40])
    write_enriched(lake, rows[40:])


def test_same_version_gives_identical_bytes(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    for build in (curate_sft, curate_preferences):
        out = tmp_path / build.__name__
        a = build(lake, CurationOptions(eval_share=0.25), output_dir=out / "a", version=1)
        b = build(lake, CurationOptions(eval_share=0.25), output_dir=out / "b")
        assert _files(a.output_dir) == _files(b.output_dir)
        assert a.manifest["output_sha256"] == b.manifest["output_sha256"]


def test_manifest_lists_every_file_with_its_hash(lake: str, tmp_path: Path) -> None:
    _lake(lake)
    result = curate_sft(lake, CurationOptions(eval_share=0.25), output_root=tmp_path, version=0)
    assert result.output_dir == tmp_path / "live" / "sft-v0"
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["source"]["delta_version"] == 0
    assert manifest["source"]["rows_read"] == 40
    listed = {f["path"]: f for f in manifest["files"]}
    cards = {"manifest.json", "README.md", "sft/README.md"}
    on_disk = set(_files(result.output_dir)) - cards
    assert (
        set(listed)
        == on_disk
        == {"sft/train.jsonl", "sft/train.parquet", "sft/test.jsonl", "sft/test.parquet"}
    )
    for name, entry in listed.items():
        data = (result.output_dir / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    written = [
        WrittenFile(f["path"], f["rows"], f["bytes"], f["sha256"]) for f in manifest["files"]
    ]
    assert manifest["output_sha256"] == dataset_digest(written)
    assert manifest["pii_scrubbed"]["email"] > 0
    dataset = manifest["datasets"]["sft"]
    assert sum(dataset["rows"].values()) == sum(a["rows"] for a in dataset["agents"])
    assert "2026" not in json.dumps(manifest)  # no wall clock (nor any date) in the card


def test_parquet_matches_jsonl(lake: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    _lake(lake)
    out = curate_sft(lake, CurationOptions(eval_share=0), output_dir=tmp_path / "o").output_dir
    table = pq.read_table(out / "sft" / "train.parquet")
    lines = (out / "sft" / "train.jsonl").read_text().splitlines()
    assert table.num_rows == len(lines) > 0
    assert table.column("id").to_pylist() == [json.loads(line)["id"] for line in lines]


def datasets_of(result: CurationResult) -> list[str]:
    return list(result.manifest["datasets"])


def test_row_and_commit_order_do_not_matter(tmp_path: Path) -> None:
    rows = [
        make_turn(
            f"s{i}",
            t,
            session_turns=2,
            feedback=[feedback(thumbs_up=True, seed=f"{i}{t}")],
            prompt=f"Question {i}-{t}",
            corrected_response="Better." if i % 3 else None,
        )
        for i in range(30)
        for t in range(2)
    ]
    revised = [{**row, "revision": 1, "kafka_offset": 99} for row in rows[::4]]
    forward, backward = str(tmp_path / "forward"), str(tmp_path / "backward")
    write_enriched(forward, rows[:30])
    write_enriched(forward, rows[30:] + revised)
    write_enriched(backward, list(reversed(revised + rows[30:])))
    write_enriched(backward, list(reversed(rows[:30])))
    options = CurationOptions(eval_share=0.3, dedup="exact")  # keep many rows to order
    for build in (curate_sft, curate_preferences):
        a = build(forward, options, output_dir=tmp_path / build.__name__ / "a")
        b = build(backward, options, output_dir=tmp_path / build.__name__ / "b")
        datasets = a.manifest["datasets"].values()
        assert sum(sum(d["rows"].values()) for d in datasets) > 20
        # The manifest and cards name the source table's path, which differs here.
        source = {"manifest.json", "README.md", *(f"{k}/README.md" for k in datasets_of(a))}
        data_a = {k: v for k, v in _files(a.output_dir).items() if k not in source}
        data_b = {k: v for k, v in _files(b.output_dir).items() if k not in source}
        assert data_a == data_b
        assert a.manifest["output_sha256"] == b.manifest["output_sha256"]
