"""Live monitoring per traffic regime: false alerts without drift, detection delay of a drop.

For every regime: one run without any quality change and one where a version's true quality
drops by `--drop` from `--drop-at` of the run; each run's traffic goes through the batch
reference's metric windows into the live monitor (verification/monitoring.py). Prints, per
regime, the verdicts reached, false alerts, and the delay of the first alert naming the
dropped version, in metric windows after the first window of the drop (the figures of
docs/monitoring.md). No Kafka needed.

    python benchmarks/monitor_detection.py --rate 20 --minutes 36
"""

import argparse
import dataclasses
import datetime as dt
import os
import time

from producers.drift import QualityChange
from producers.regimes import regime_config, regime_names
from verification.monitoring import DetectionRun, monitor_traffic


def _run(regime: str, args: argparse.Namespace, drop: bool) -> DetectionRun:
    sessions = int(args.rate * args.minutes * 60)
    base = regime_config(regime, sessions=sessions, sessions_per_second=args.rate, seed=args.seed)
    changes: tuple[QualityChange, ...] = ()
    if drop:
        agent_id, agent_version = args.version.split(":")
        profile = next(
            a for a in base.agents if (a.agent_id, a.agent_version) == (agent_id, agent_version)
        )
        changes = (
            QualityChange(
                agent_id,
                agent_version,
                max(0.0, profile.quality - args.drop),
                start_share=args.drop_at,
            ),
        )
    config = dataclasses.replace(base, quality_changes=changes)
    return monitor_traffic(config, window_ms=args.window_s * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="Sessions per second.")
    parser.add_argument("--minutes", type=float, default=36.0, help="Event time per run.")
    parser.add_argument("--drop", type=float, default=0.3, help="Drop of the true quality.")
    parser.add_argument("--drop-at", type=float, default=0.55, help="Share of the run.")
    parser.add_argument("--version", default="support-bot:1.5.0", help="AGENT:VERSION dropped.")
    parser.add_argument("--window-s", type=int, default=60, help="Metric window, s.")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--regimes", default=",".join(regime_names()))
    args = parser.parse_args()
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.rate} sessions/s, "
        f"{args.minutes} min per run, drop {args.drop} of {args.version} at {args.drop_at:.0%}, "
        f"{args.window_s} s windows, seed {args.seed}"
    )
    print(
        "| regime | verdicts (no drift) | false alerts (no drift) | verdicts (drop) "
        "| false alerts (drop) | delay, windows | first alert |"
    )
    print("|---|---|---|---|---|---|---|")
    for regime in args.regimes.split(","):
        started = time.perf_counter()
        quiet = _run(regime, args, drop=False)
        dropped = _run(regime, args, drop=True)
        first = dropped.first_detection
        print(
            f"| {regime} | {quiet.tested} | {len(quiet.false_alerts)} | {dropped.tested} "
            f"| {len(dropped.false_alerts)} | {dropped.detection_delay_windows} "
            f"| {first['metric'] if first else '-'} |"
            f"  <!-- {time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f} -->",
            flush=True,
        )
        for alert in quiet.false_alerts + dropped.false_alerts:
            print(f"    false alert: {alert['message']}")


if __name__ == "__main__":
    main()
