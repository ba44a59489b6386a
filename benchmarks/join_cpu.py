"""CPU cost of the join itself, in process: decode, stage, advance, encode; no Kafka, no Redis.

    python benchmarks/join_cpu.py [--sessions 4000] [--rounds 5]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/join_cpu.py --sessions 2000 --rounds 1   # minus --rounds 0

Generated traffic (`producers.traffic`, good records only) is encoded once; each round replays it
through one `PartitionProcessor` per input partition the way the worker's step does (decode with
the worker's `EventDecoder`, `ingest`, `advance` every 500 events with every input read to its
end, encode every enriched record), then lets the watermark run until every session closed.
Prints the minimum process CPU time per event over the rounds. Under callgrind, the instruction
count of one round (a run with `--rounds 1` minus one with `--rounds 0`, the set-up alone) is
steadier than time on a shared machine.

The same script runs against an older checkout (`PYTHONPATH=<checkout>`), so two versions of the
join can be compared back to back; it uses only the interfaces both have.
"""

import argparse
import time
from collections.abc import Callable
from typing import Any

from producers.traffic import TrafficConfig, generate_traffic
from schemas.extension import ExtensionEncoder
from schemas.serializer import serializer_for
from schemas.topics import ENRICHED, INPUT_TOPICS, INTERACTIONS
from stream_processors import COMPILED_MODULES
from stream_processors.intake import EventDecoder
from stream_processors.partition import PartitionConfig, PartitionProcessor

PARTITIONS = 6
STEP_EVENTS = 500
CONFIG = PartitionConfig(
    abandon_after_ms=600_000,
    grace_ms=21_600_000,
    lateness_ms=1_000,
    idle_timeout_ms=3_000,
    window_ms=60_000,
    sample_size=512,
)


def _messages(sessions: int) -> list[tuple[str, int, bytes, bytes]]:
    """(topic, partition, key, value) of generated traffic, in the generator's order."""
    traffic = generate_traffic(TrafficConfig(sessions=sessions, seed=11))
    out = []
    for event in traffic.events():
        key = event.key or b""
        out.append((event.topic.name, sum(key) % PARTITIONS, key, event.value()))
    return out


def _replay(messages: list[tuple[str, int, bytes, bytes]]) -> int:
    """One pass of the join over `messages`; returns how many enriched records it encoded."""
    decoder = EventDecoder(list(INPUT_TOPICS), 512 * 1024)
    encode: Callable[..., bytes] = ExtensionEncoder(
        serializer_for(ENRICHED), serializer_for(INTERACTIONS)
    ).encode
    kinds = {spec.name: decoder.kind_of(spec.name) for spec in INPUT_TOPICS}
    topics = [spec.name for spec in INPUT_TOPICS]
    processors = [PartitionProcessor(p, CONFIG, now=0.0) for p in range(PARTITIONS)]
    offsets: dict[tuple[str, int], int] = {}
    encoded = 0
    now = 0.0

    def step() -> int:
        count = 0
        for processor in processors:
            outputs = processor.advance(now, set(topics), topics)
            for record, message in zip(outputs.enriched, outputs.enriched_messages, strict=True):
                encode(record, message)
                count += 1
            processor.dirty_state()
        return count

    for index, (topic, partition, key, value) in enumerate(messages, 1):
        record: Any = decoder.decode(topic, key, value)
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        if isinstance(record, dict):
            entry = {
                "kind": kinds[topic],
                "record": record,
                "src": [topic, partition, offset, None],
                "value": value,
            }
            processors[partition].ingest(topic, offset, entry, now)
        if index % STEP_EVENTS == 0:
            now += 10.0
            encoded += step()
    for _ in range(200):  # input over: idle, the watermark follows the wall clock
        now += 60_000.0
        encoded += step()
    return encoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    messages = _messages(args.sessions)
    if args.rounds == 0:
        return  # the set-up alone (see the module docstring)
    best = float("inf")
    encoded = 0
    for _ in range(args.rounds):
        started = time.process_time()
        encoded = _replay(messages)
        best = min(best, time.process_time() - started)
    print(f"join logic: {'compiled' if COMPILED_MODULES else 'pure Python'}")
    print(f"events: {len(messages):,}, enriched records: {encoded:,}")
    print(f"CPU per event (best of {args.rounds}): {best / len(messages) * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
