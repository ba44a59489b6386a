"""A private stack's ports lie below the kernel's ephemeral range, a single node's too.

A client still connecting to a stopped broker's port inside that range can be handed that very
port as its own source port and connect to itself (TCP simultaneous open on loopback); it then
holds the port and the restarted broker fails with "Address already in use".
"""

from pathlib import Path

import pytest

from tests.e2e.pipeline_harness.private_stack import private_ports


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


@pytest.mark.parametrize(("brokers", "redis_cluster"), [(1, 0), (3, 0), (3, 3)])
def test_ports_below_the_ephemeral_range_without_overlap(brokers: int, redis_cluster: int) -> None:
    kafka, controller, redis = private_ports(brokers, redis_cluster)
    redis_nodes = 2 * redis_cluster if redis_cluster else 1
    used = [
        *(kafka + 2 * i for i in range(brokers)),
        *(controller + 2 * i for i in range(brokers)),
        *(redis + i for i in range(redis_nodes)),
    ]
    assert len(set(used)) == len(used)
    assert max(used) < _ephemeral_low()
    # A Redis Cluster node's bus port (its port + 10000) too.
    assert redis + 10000 + redis_nodes - 1 < _ephemeral_low()
