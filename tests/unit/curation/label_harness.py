"""The offline evaluation of curation on generated traffic, regime by regime (no Kafka).

generated traffic -> the batch reference (`verification.reference`: the enriched records the
processor owes for those events) -> an enriched Delta table on disk, as the sink writes it ->
`curate sft` / `curate preferences` with default options -> precision and recall against the
generator's ground truth, and the manifest's estimates beside them.

    python -m tests.unit.curation.label_harness --sessions 3000    # every regime, a table
"""

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation import CurationOptions, curate_preferences, curate_sft
from producers.regimes import REGIMES, regime_config
from producers.traffic import generate_traffic
from producers.truth import GroundTruth
from schemas.topics import ENRICHED, FEEDBACK, INTERACTIONS, SIGNALS
from tests.unit.curation.enriched_factory import write_enriched
from verification.reference import ReferenceConfig, expected_results

__all__ = ["RegimeScore", "reference_lake", "score_regime"]

_KINDS = {INTERACTIONS.name: "interaction", FEEDBACK.name: "feedback", SIGNALS.name: "signal"}


def reference_lake(lake_uri: str | Path, regime: str, sessions: int, seed: int) -> GroundTruth:
    """Write the enriched table the processor owes for a regime's traffic; return the truth."""
    import datetime as dt

    config = regime_config(regime, sessions=sessions, seed=seed)
    traffic = generate_traffic(config)
    events = [
        {
            "kind": _KINDS[event.topic.name],
            "record": event.record,
            "topic": event.topic.name,
            "partition": 0,
            "offset": offset,
            "timestamp": None,
        }
        for offset, event in enumerate(traffic.events())
        if event.record is not None and not event.duplicate
    ]
    reference = ReferenceConfig(
        abandon_after_ms=int(config.abandon_after_s * 1000),
        grace_ms=int(config.feedback_grace_s * 1000),
    )
    results = expected_results(events, reference)
    rows: list[dict[str, Any]] = []
    for offset, turn in enumerate(sorted(results.turns.values(), key=lambda t: t.event_id)):
        record = dict(turn.record)
        record["context"] = sorted(record["context"].items())
        record.update(
            revision=0,
            kafka_topic=ENRICHED.name,
            kafka_partition=0,
            kafka_offset=offset,
            kafka_timestamp=record["session_closed_at"],
            event_date=dt.datetime.fromtimestamp(record["event_time"] / 1000, dt.UTC).date(),
        )
        rows.append(record)
    write_enriched(lake_uri, rows)
    return traffic.truth


@dataclass(frozen=True)
class RegimeScore:
    """Measured and estimated quality of the default datasets of one regime."""

    regime: str
    turns: int
    good_share: float
    sft_rows: int
    corrections: int
    precision: float
    own_precision: float
    recall: float
    estimated_precision: float
    estimated_recall: float
    pairs: int
    pairs_oriented: float
    kto_rows: int
    kto_accuracy: float
    seconds: float

    def as_row(self) -> str:
        return (
            f"| {self.regime} | {self.turns:,} | {self.good_share:.2f} | {self.sft_rows:,} "
            f"({self.corrections}) | {self.precision:.3f} | {self.estimated_precision:.3f} | "
            f"{self.recall:.3f} | {self.estimated_recall:.3f} | {self.pairs:,} | "
            f"{self.pairs_oriented:.3f} | {self.kto_rows:,} | {self.kto_accuracy:.3f} |"
        )


def _rows(directory: Path, dataset: str) -> list[dict[str, Any]]:
    """Every row of a dataset, whichever file layout the writer uses."""
    paths = sorted(directory.glob(f"{dataset}-*.jsonl")) + sorted(
        directory.glob(f"{dataset}/*.jsonl")
    )
    return [json.loads(line) for path in paths for line in path.read_text().splitlines()]


def score_regime(
    regime: str, sessions: int, seed: int, work: Path, options: CurationOptions | None = None
) -> RegimeScore:
    """Build the regime's reference lake under `work`, curate with `options`, and score."""
    started = time.perf_counter()
    options = options or CurationOptions()
    lake = work / f"lake-{regime}"
    truth = reference_lake(lake, regime, sessions, seed)
    turns = {t.event_id: t for s in truth.sessions.values() for t in s.turns}
    sft = curate_sft(str(lake), options, output_dir=work / f"sft-{regime}")
    examples = _rows(sft.output_dir, "sft")
    own = [r for r in examples if r["answer_source"] == "response"]
    corrections = len(examples) - len(own)
    good_own = sum(turns[r["event_ids"][-1]].good for r in own)
    good_total = sum(t.good for t in turns.values())
    labels = sft.manifest["datasets"]["sft"].get("label_model", {})
    prefs = curate_preferences(str(lake), options, output_dir=work / f"prefs-{regime}")
    pairs = _rows(prefs.output_dir, "preferences")
    oriented = 0
    for pair in pairs:
        chosen, rejected = turns[pair["chosen_event_id"]], turns[pair["rejected_event_id"]]
        if pair["pair_source"] == "correction":
            oriented += not rejected.good
        else:
            oriented += chosen.quality > rejected.quality
    kto = _rows(prefs.output_dir, "kto")
    kto_right = sum(
        row["label"]
        if row["answer_source"] == "correction"
        else row["label"] == turns[row["event_ids"][-1]].good
        for row in kto
    )
    return RegimeScore(
        regime=regime,
        turns=len(turns),
        good_share=good_total / len(turns),
        sft_rows=len(examples),
        corrections=corrections,
        precision=(good_own + corrections) / max(len(examples), 1),
        own_precision=good_own / max(len(own), 1),
        recall=good_own / max(good_total, 1),
        estimated_precision=float(labels.get("estimated_precision", float("nan"))),
        estimated_recall=float(labels.get("estimated_recall", float("nan"))),
        pairs=len(pairs),
        pairs_oriented=oriented / max(len(pairs), 1),
        kto_rows=len(kto),
        kto_accuracy=kto_right / max(len(kto), 1),
        seconds=time.perf_counter() - started,
    )


HEADER = (
    "| regime | turns | good | SFT rows (corrections) | precision | estimated | recall | "
    "estimated | pairs | oriented | KTO rows | KTO label accuracy |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--regime", action="append", choices=sorted(REGIMES))
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="label-harness-") as work:
        for regime in args.regime or list(REGIMES):
            score = score_regime(regime, args.sessions, args.seed, Path(work))
            print(score.as_row(), f"<!-- {score.seconds:.1f} s -->", flush=True)


if __name__ == "__main__":
    main()
