"""The offline evaluation of curation on generated traffic, regime by regime (no Kafka).

generated traffic -> the batch reference (`verification.reference`: the enriched records the
processor owes for those events) -> an enriched Delta table on disk, as the sink writes it ->
`curate sft` / `curate preferences` with default options -> precision and recall against the
generator's ground truth, and the manifest's estimates beside them.

    python -m tests.unit.curation.label_harness --sessions 3000    # every regime, a table
    python -m tests.unit.curation.label_harness --random 8          # 8 random mixes as well

`--random N` adds N traffic mixes drawn at random within the ranges the regimes span (feedback
rate, rater noise, sarcasm, correction delay, base rate, session length, how users react): the
label model is fixed once for all traffic, so it is also checked on mixes nobody chose.
"""

import argparse
import dataclasses
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation import CurationOptions, curate_preferences, curate_sft
from producers.regimes import REGIMES, regime_config
from producers.traffic import TrafficConfig, generate_traffic
from producers.truth import GroundTruth
from schemas.topics import ENRICHED, FEEDBACK, INTERACTIONS, SIGNALS
from tests.unit.curation.enriched_factory import write_enriched
from verification.reference import ReferenceConfig, expected_results

__all__ = ["RegimeScore", "random_mix", "reference_lake", "score_regime"]

_KINDS = {INTERACTIONS.name: "interaction", FEEDBACK.name: "feedback", SIGNALS.name: "signal"}


def random_mix(sessions: int, seed: int) -> TrafficConfig:
    """A traffic mix drawn at random (from `seed`) within the ranges the named regimes span."""
    rng = random.Random(f"mix/{seed}")
    shift = rng.uniform(-0.27, 0.05)  # base rate of good turns ~0.45-0.9
    base = regime_config("default", sessions=sessions, seed=seed)
    agents = tuple(
        dataclasses.replace(a, quality=min(0.97, max(0.03, a.quality + shift))) for a in base.agents
    )
    return dataclasses.replace(
        base,
        regime=f"mix-{seed}",
        agents=agents,
        feedback_share=rng.uniform(0.1, 0.9),
        feedback_items=rng.choice([(1, 1, 1, 2), (1, 2, 2, 2), (1, 1, 2, 3)]),
        feedback_noise=rng.uniform(0.0, 0.1),
        noisy_rater_share=rng.uniform(0.0, 0.4),
        noisy_rater_noise=rng.uniform(0.1, 0.25),
        sarcastic_user_share=rng.uniform(0.0, 0.15),
        correction_delay_s=rng.choice([0.0, 300.0, 3600.0, 3 * 3600.0, 6 * 3600.0]),
        max_turns=rng.randint(3, 9),
        retry_share=rng.uniform(0.2, 0.7),
        retry_without_id_share=rng.uniform(0.0, 0.5),
        session_model=rng.choice(["mean", "turns"]),
        quit_after_bad=rng.uniform(0.3, 0.8),
    )


def reference_lake(
    lake_uri: str | Path,
    regime: str,
    sessions: int,
    seed: int,
    config: TrafficConfig | None = None,
) -> GroundTruth:
    """Write the enriched table the processor owes for a regime's traffic (or `config`'s);
    return the truth."""
    import datetime as dt

    config = config or regime_config(regime, sessions=sessions, seed=seed)
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
    regime: str,
    sessions: int,
    seed: int,
    work: Path,
    options: CurationOptions | None = None,
    config: TrafficConfig | None = None,
) -> RegimeScore:
    """Build the regime's (or `config`'s) reference lake under `work`, curate with `options`,
    and score."""
    started = time.perf_counter()
    options = options or CurationOptions()
    lake = work / f"lake-{regime}"
    truth = reference_lake(lake, regime, sessions, seed, config)
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
    parser.add_argument(
        "--random", type=int, default=0, help="also score this many random traffic mixes"
    )
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="label-harness-") as work:
        for regime in args.regime or list(REGIMES):
            score = score_regime(regime, args.sessions, args.seed, Path(work))
            print(score.as_row(), f"<!-- {score.seconds:.1f} s -->", flush=True)
        for offset in range(args.random):
            config = random_mix(args.sessions, args.seed + offset)
            score = score_regime(
                config.regime, args.sessions, config.seed, Path(work), config=config
            )
            note = f"<!-- {score.seconds:.1f} s; {_describe(config)} -->"
            print(score.as_row(), note, flush=True)


def _describe(config: TrafficConfig) -> str:
    """The drawn values of a random mix, for the table's reader."""
    return (
        f"feedback_share {config.feedback_share:.2f}, noise {config.feedback_noise:.2f}, "
        f"noisy raters {config.noisy_rater_share:.2f} x {config.noisy_rater_noise:.2f}, "
        f"sarcastic {config.sarcastic_user_share:.2f}, correction delay "
        f"{config.correction_delay_s:.0f} s, max_turns {config.max_turns}, "
        f"{config.session_model}, quit_after_bad {config.quit_after_bad:.2f}"
    )


if __name__ == "__main__":
    main()
