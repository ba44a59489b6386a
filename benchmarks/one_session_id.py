"""An agent that uses one session id for every conversation: what the join keeps and writes.

    python benchmarks/one_session_id.py [--hours 12] [--turns-per-s 1] [--max-session-turns 1000]

Such a session is never quiet for `abandon_after_s`, so only `max_session_turns` closes it
(docs/semantics.md, "Length cap"). One `PartitionProcessor` reads it as live traffic, in process
(no Kafka, no Redis): a turn every 1 / `--turns-per-s` seconds of event time, a thumbs-up on
every fourth turn a second later, the wall clock keeping pace with event time, a step every
0.5 s with a checkpoint (`dirty_state`, encoded with orjson as the worker writes it to Redis).
Prints, per hour of traffic, the enriched records so far and the bytes the checkpoint wrote for
the session (mean and largest), then the process CPU time per event. Default timing settings
(abandonment 600 s, grace 6 h). Runs against an older checkout too (`PYTHONPATH=<checkout>`):
without the cap, the session never closes and what a checkpoint writes grows with its age.
"""

import argparse
import time
import uuid
from typing import Any

import orjson

from producers.records import build_feedback, build_interaction
from stream_processors.partition import PartitionConfig, PartitionProcessor

TOPICS = ("interactions", "feedback", "signals")
T0 = 1_767_225_600_000
STEP_S = 0.5


def _interaction(index: int, at_ms: int) -> dict[str, Any]:
    record = build_interaction(
        session_id="everyone",
        turn_index=index,
        agent_id="bot",
        agent_version="1.0",
        model="m",
        prompt="q",
        response="a",
        latency_ms=100,
        prompt_tokens=1,
        completion_tokens=1,
        cost_usd=0.001,
        user_id=f"u-{index % 97}",
        event_id=str(uuid.uuid5(uuid.NAMESPACE_OID, f"turn/{index}")),
        event_time=at_ms,
    )
    return {"kind": "interaction", "record": record, "src": ["interactions", 0, index, None]}


def _thumbs(index: int, turn_id: str, at_ms: int) -> dict[str, Any]:
    record = build_feedback(
        session_id="everyone",
        kind="thumbs",
        interaction_id=turn_id,
        thumbs_up=True,
        event_id=str(uuid.uuid5(uuid.NAMESPACE_OID, f"thumbs/{index}")),
        event_time=at_ms,
    )
    return {"kind": "feedback", "record": record, "src": ["feedback", 0, index, None]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--turns-per-s", type=float, default=1.0)
    parser.add_argument("--max-session-turns", type=int, default=1000)
    args = parser.parse_args()
    settings: dict[str, Any] = {
        "abandon_after_ms": 600_000,
        "grace_ms": 21_600_000,
        "lateness_ms": 1_000,
        "idle_timeout_ms": 3_000,
        "window_ms": 60_000,
        "sample_size": 512,
    }
    if "max_session_turns" in PartitionConfig.__dataclass_fields__:
        settings["max_session_turns"] = args.max_session_turns
    else:
        print("this checkout has no max_session_turns: the session is never capped")
    processor = PartitionProcessor(0, PartitionConfig(**settings), now=0.0)
    gap_ms = 1000.0 / args.turns_per_s
    end_s = args.hours * 3600
    turn = feedback = events = enriched = 0
    offsets = dict.fromkeys(TOPICS, 0)
    pending: list[tuple[int, str, dict[str, Any]]] = []  # (event time, topic, entry)
    written: list[int] = []
    now = 0.0
    cpu = time.process_time()
    while now < end_s:
        now += STEP_S
        while T0 + turn * gap_ms <= T0 + now * 1000:
            entry = _interaction(turn, T0 + int(turn * gap_ms))
            pending.append((entry["record"]["event_time"], "interactions", entry))
            if turn % 4 == 0:
                at = entry["record"]["event_time"] + 1000
                pending.append((at, "feedback", _thumbs(feedback, entry["record"]["event_id"], at)))
                feedback += 1
            turn += 1
        due = [p for p in pending if p[0] <= T0 + now * 1000]
        pending = [p for p in pending if p[0] > T0 + now * 1000]
        for _, topic, entry in due:
            offsets[topic] += 1
            processor.ingest(topic, offsets[topic], entry, now * 1000)
            events += 1
        enriched += len(processor.advance(now * 1000, TOPICS, TOPICS).enriched)
        changes = processor.dirty_state()
        written.append(sum(len(orjson.dumps(s)) for s in changes.sessions.values()))
        if int(now / STEP_S) % int(3600 / STEP_S) == 0:
            hour = written[-int(3600 / STEP_S) :]
            print(
                f"hour {now / 3600:4.1f}: {turn:6d} turns, {enriched:6d} enriched records; "
                f"a checkpoint wrote {sum(hour) / len(hour) / 1e3:7.1f} kB of session state "
                f"on average, {max(hour) / 1e3:7.1f} kB at most",
                flush=True,
            )
    cpu = time.process_time() - cpu
    print(f"{events} events, {cpu:.1f} s CPU: {cpu / events * 1e6:.0f} us per event")


if __name__ == "__main__":
    main()
