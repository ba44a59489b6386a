"""How many replicas a topic gets, and how many of them must hold a write, said once for the
stack's brokers and for every component that creates topics (`local_stack.topics`).

One replica per broker up to three, and `min.insync.replicas` one less: an `acks=all` write then
survives one broker down, and a single node (one replica, one in sync) works as before.
"""

__all__ = ["MAX_REPLICATION_FACTOR", "min_insync_replicas", "replication_factor_for"]

MAX_REPLICATION_FACTOR = 3


def replication_factor_for(brokers: int) -> int:
    """Replicas of a topic on a cluster of `brokers`: one per broker, at most three."""
    return max(1, min(MAX_REPLICATION_FACTOR, brokers))


def min_insync_replicas(replication_factor: int) -> int:
    """In-sync replicas an acks=all write needs: all but one, at least one."""
    return max(1, replication_factor - 1)
