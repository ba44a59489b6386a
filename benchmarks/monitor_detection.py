"""Live monitoring per traffic regime: false alerts without drift, detection delay of a drop.

For every rate, regime and seed: one run without any quality change, and for each version in
`--versions` one run where that version's true quality drops by `--drop` from `--drop-at` of
the run; each run's traffic goes through the batch reference's metric windows into the live
monitor (verification/monitoring.py). Prints, per rate and regime, the verdicts reached
without drift and its false alerts, then per dropped version its quality before and after,
the false alerts of those runs and per seed the delay of the first alert naming the dropped
version, in metric windows after the first window of the drop (the figures of
docs/monitoring.md), with the load average. No Kafka.

    python benchmarks/monitor_detection.py --rates 2 --seeds 11,12,13 --minutes 120

"""

import argparse
import dataclasses
import datetime as dt
import os
import time

from producers.drift import QualityChange
from producers.regimes import regime_config, regime_names
from producers.traffic import DEFAULT_AGENTS, AgentProfile, TrafficConfig
from verification.monitoring import DetectionRun, monitor_traffic


def _run(
    regime: str, args: argparse.Namespace, rate: float, seed: int, version: str | None
) -> DetectionRun:
    sessions = int(rate * args.minutes * 60)
    base = regime_config(regime, sessions=sessions, sessions_per_second=rate, seed=seed)
    changes: tuple[QualityChange, ...] = ()
    if version is not None:
        profile = _profile(base, version)
        changes = (
            QualityChange(
                profile.agent_id,
                profile.agent_version,
                max(0.0, profile.quality - args.drop),
                start_share=args.drop_at,
            ),
        )
    config = dataclasses.replace(base, quality_changes=changes)
    return monitor_traffic(config, window_ms=args.window_s * 1000)


def _profile(config: TrafficConfig, version: str) -> AgentProfile:
    agent_id, agent_version = version.split(":")
    return next(
        a for a in config.agents if (a.agent_id, a.agent_version) == (agent_id, agent_version)
    )


def _delay(run: DetectionRun) -> str:
    if run.detection_delay_windows is None:
        return "missed"
    assert run.first_detection is not None
    metric = str(run.first_detection["metric"]).removeprefix("live_")
    return f"{run.detection_delay_windows} ({metric})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2,10", help="Sessions per second, comma-separated.")
    parser.add_argument("--minutes", type=float, default=120.0, help="Event time per run.")
    parser.add_argument("--drop", type=float, default=0.3, help="Drop of the true quality.")
    parser.add_argument("--drop-at", type=float, default=0.5, help="Share of the run.")
    parser.add_argument(
        "--versions",
        default=",".join(f"{a.agent_id}:{a.agent_version}" for a in DEFAULT_AGENTS),
        help="AGENT:VERSION dropped, one run each, comma-separated ('' for none).",
    )
    parser.add_argument("--window-s", type=int, default=60, help="Metric window, s.")
    parser.add_argument("--seeds", default="11,12,13", help="Seeds, comma-separated.")
    parser.add_argument("--regimes", default=",".join(regime_names()))
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    versions = [v for v in args.versions.split(",") if v]
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.minutes} min per run, drop "
        f"{args.drop} at {args.drop_at:.0%} of the run, {args.window_s} s windows, seeds "
        f"{args.seeds}; delay in windows after the drop's first (metric of the first alert)"
    )
    print(
        "| sessions/s | regime | verdicts (no drift) | false alerts (no drift) "
        "| dropped version: quality | false alerts (drop) | delay per seed | load |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for rate in (float(r) for r in args.rates.split(",")):
        for regime in args.regimes.split(","):
            started = time.perf_counter()
            quiet = [_run(regime, args, rate, seed, None) for seed in seeds]
            tested = sum(run.tested for run in quiet)
            messages = [a["message"] for run in quiet for a in run.false_alerts]
            false_quiet = len(messages)
            if not versions:
                print(
                    f"| {rate:g} | {regime} | {tested} | {false_quiet} | | | "
                    f"| {os.getloadavg()[0]:.1f} |",
                    flush=True,
                )
            for index, version in enumerate(versions):
                dropped = [_run(regime, args, rate, seed, version) for seed in seeds]
                false_drop = sum(len(run.false_alerts) for run in dropped)
                messages += [a["message"] for run in dropped for a in run.false_alerts]
                before = _profile(dropped[0].config, version).quality
                after = max(0.0, before - args.drop)
                quiet_cells = f"{tested} | {false_quiet}" if index == 0 else " | "
                print(
                    f"| {rate:g} | {regime} | {quiet_cells} | {version}: {before:.2f} -> "
                    f"{after:.2f} | {false_drop} | {', '.join(_delay(r) for r in dropped)} "
                    f"| {os.getloadavg()[0]:.1f} |",
                    flush=True,
                )
            print(f"  <!-- {regime} at {rate:g}/s: {time.perf_counter() - started:.0f} s -->")
            for message in messages:
                print(f"    false alert: {message}")


if __name__ == "__main__":
    main()
