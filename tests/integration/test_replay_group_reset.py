"""`reset_group_to_time` on the real broker: a group that never committed, and request
timeouts that must end in a ReplayError, never in a librdkafka abort of the whole process."""

import json
import subprocess
import sys
import textwrap
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from replay.group_reset import reset_group_to_time
from schemas.topics import INTERACTIONS


def _produce(bootstrap_servers: str, topic: str, partitions: int, per_partition: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 5})
    for partition in range(partitions):
        for i in range(per_partition):
            producer.produce(topic, value=f"{i}".encode(), partition=partition)
    assert producer.flush(30) == 0


def test_a_group_that_never_committed_gets_offsets(bootstrap_servers, unique_topics):
    topic = unique_topics(INTERACTIONS, partitions=2)
    _produce(bootstrap_servers, topic.name, 2, 5)
    group = f"reset-new-{uuid.uuid4().hex[:8]}"
    resets = reset_group_to_time(bootstrap_servers, group, 0, [topic.name])
    assert sorted((r.partition, r.old_offset, r.new_offset) for r in resets) == [
        (0, None, 0),
        (1, None, 0),
    ]
    # Reset again to the end: the offsets the first reset committed are now the old ones.
    end = reset_group_to_time(bootstrap_servers, group, 2**62, [topic.name])
    assert sorted((r.partition, r.old_offset, r.new_offset) for r in end) == [(0, 0, 5), (1, 0, 5)]
    probe = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group})
    try:
        wanted = [TopicPartition(topic.name, p) for p in range(2)]
        assert [tp.offset for tp in probe.committed(wanted, timeout=10)] == [5, 5]
    finally:
        probe.close()


# Each run: a group nobody knows yet, and request timeouts short enough that some of the
# group-coordinator requests time out. The admin client's offset requests aborted the process
# (`eonce->refcnt > 0` assertion, SIGABRT) in two of three such runs before they were replaced.
_TIMEOUT_LOOP = """
import json, sys, uuid
from replay.exceptions import ReplayError
from replay.group_reset import reset_group_to_time
bootstrap, topic = sys.argv[1], sys.argv[2]
outcomes = {"reset": 0, "refused": 0}
for _round in range(10):
    for timeout_ms in range(20, 120, 10):
        group = f"reset-timeout-{uuid.uuid4().hex[:8]}"
        try:
            reset_group_to_time(bootstrap, group, 0, [topic], timeout_s=timeout_ms / 1000)
            outcomes["reset"] += 1
        except ReplayError:
            outcomes["refused"] += 1
print(json.dumps(outcomes))
"""


def test_request_timeouts_raise_instead_of_aborting(bootstrap_servers, unique_topics):
    topic = unique_topics(INTERACTIONS, partitions=1)
    _produce(bootstrap_servers, topic.name, 1, 3)
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_TIMEOUT_LOOP), bootstrap_servers, topic.name],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    outcomes = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcomes["reset"] + outcomes["refused"] == 100
