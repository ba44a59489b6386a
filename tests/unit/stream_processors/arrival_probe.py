"""Many more random arrival orders than CI runs, compared with the batch reference.

    python -m tests.unit.stream_processors.arrival_probe --seconds 300 --reading bursts
    python -m tests.unit.stream_processors.arrival_probe --abandon-after-s 20 --lateness-ms 500
    python -m tests.unit.stream_processors.arrival_probe --max-turns 2

Draws backlogs and schedules with fresh seeds and runs the property tests' own readings
(`test_arrival_order`; `test_late_sessions`: a backfill into a busy partition, an agent whose
clock runs 90-900 s behind) under any timing settings, printing each case that differs from
the reference with the seeds that replay it. Not a test: CI runs the properties with a fixed
number of examples; this is for hunting, before a release or after a change to the join
(docs/semantics.md). Backfills whose sessions arrive more than the idle timeout apart are
outside the contract and only counted.
"""

import argparse
import dataclasses
import itertools
import random
import time
from typing import Any

from tests.unit.stream_processors import test_arrival_order as arrival
from tests.unit.stream_processors import test_late_sessions as late
from tests.unit.stream_processors import test_restarts as restarts

READINGS = ("bursts", "live", "backfill", "slow", "restarts")


def _case(reading: str, seed: int, schedule: int, sessions: int, config: Any) -> list[str] | None:
    """The differences of one case (None: outside the contract, not compared)."""
    backlog = arrival._backlog(seed, sessions=sessions)
    if reading == "bursts":
        run = arrival._run(backlog, random.Random(schedule), config)
        return arrival._differences(backlog, run, config=config)
    if reading == "live":
        run = arrival._run_live(backlog, random.Random(schedule), config)
        return arrival._differences(backlog, run, config=config)
    if reading == "restarts":  # metric windows not compared: see `restarts._run_restarts`
        run = restarts._run_restarts(backlog, random.Random(schedule), config)
        return arrival._differences(backlog, run, metrics=False, config=config)
    if reading == "slow":  # an agent whose clock runs 90-900 s behind another's
        behind_s = random.Random(schedule).uniform(90, 900)
        run, merged = late._run_slow_clock(backlog, random.Random(schedule), behind_s, config)
        return arrival._differences(merged, run, metrics=False, config=config)
    live = late._live_backlog()
    run, arrivals = late._run_backfill(live, backlog, random.Random(schedule), config)
    if any(
        later - earlier >= config.idle_timeout_ms
        for times in arrivals.values()
        for earlier, later in itertools.pairwise(times)
    ):
        return None
    merged = {topic: live[topic] + backlog[topic] for topic in arrival.TOPICS}
    return arrival._differences(merged, run, metrics=False, config=config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--reading", choices=(*READINGS, "all"), default="all")
    parser.add_argument("--abandon-after-s", type=float, default=None)
    parser.add_argument("--grace-s", type=float, default=None)
    parser.add_argument("--lateness-ms", type=int, default=None)
    parser.add_argument("--lead-s", type=float, default=None)
    parser.add_argument("--window-s", type=float, default=None)
    parser.add_argument("--window-grace-ms", type=int, default=None)
    parser.add_argument("--max-turns", type=int, default=None, help="max_session_turns")
    args = parser.parse_args()
    changes: dict[str, int] = {}
    if args.abandon_after_s is not None:
        changes["abandon_after_ms"] = int(args.abandon_after_s * 1000)
    if args.grace_s is not None:
        changes["grace_ms"] = int(args.grace_s * 1000)
    if args.lateness_ms is not None:
        changes["lateness_ms"] = args.lateness_ms
    if args.lead_s is not None:
        changes["lead_ms"] = int(args.lead_s * 1000)
    if args.window_s is not None:
        changes["window_ms"] = int(args.window_s * 1000)
    if args.window_grace_ms is not None:
        changes["window_grace_ms"] = args.window_grace_ms
    if args.max_turns is not None:
        changes["max_session_turns"] = args.max_turns
    config = dataclasses.replace(arrival.CONFIG, **changes)
    readings = READINGS if args.reading == "all" else (args.reading,)
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.seconds
    cases = differing = outside = 0
    while time.monotonic() < deadline:
        reading = readings[cases % len(readings)]
        seed, schedule = rng.getrandbits(32), rng.getrandbits(32)
        sessions = rng.choice([4, 4, 8, 16])
        try:
            differences = _case(reading, seed, schedule, sessions, config)
        except Exception as exc:  # a crash is a finding too: say how to replay it
            differences = [f"raised {exc!r}"]
        cases += 1
        if differences is None:
            outside += 1
        elif differences:
            differing += 1
            print(
                f"DIFFERS reading={reading} seed={seed} schedule={schedule} sessions={sessions}: "
                f"{differences[:3]}",
                flush=True,
            )
    print(f"{cases} cases, {differing} differ from the reference, {outside} outside the contract")
    print(f"settings: {config}")


if __name__ == "__main__":
    main()
