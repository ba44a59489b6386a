"""A dedicated Kafka + Redis on free ports, so scenarios may stop and restart them at will."""

import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from local_stack import LocalStack, StackSettings
from schemas.topics import TopicSpec

__all__ = ["PrivateStack", "free_port", "start_private_stack"]


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateStack:
    """A `LocalStack` of our own; its data survives restarts until `down()`."""

    stack: LocalStack

    @property
    def bootstrap_servers(self) -> str:
        return self.stack.settings.bootstrap_servers

    @property
    def redis_url(self) -> str:
        return self.stack.settings.redis_url

    def restart_kafka(self, down_s: float) -> float:
        """Stop the broker (SIGTERM, SIGKILL after the stop timeout), wait, start it, wait for
        health. Returns how long the broker was unreachable, in seconds."""
        stopped = time.monotonic()
        self.stack.kafka.process.stop(self.stack.settings.stop_timeout_s)
        time.sleep(down_s)
        self.stack.kafka.start()
        _wait(self.stack.kafka.healthy, self.stack.settings.start_timeout_s, "kafka")
        return time.monotonic() - stopped

    def restart_redis(self, down_s: float) -> float:
        """Stop Redis (SIGTERM: it writes its AOF and exits), wait, start it again."""
        stopped = time.monotonic()
        self.stack.redis.process.stop(self.stack.settings.stop_timeout_s)
        time.sleep(down_s)
        self.stack.redis.start()
        _wait(self.stack.redis.healthy, self.stack.settings.start_timeout_s, "redis")
        return time.monotonic() - stopped

    def wait_partitions_created(self, specs: Iterable[TopicSpec], timeout_s: float = 60.0) -> None:
        """Until the broker has created the log of every partition of `specs`.

        Metadata names a leader before the broker has created the partition's log; an idempotent
        producer writing in that gap lost its first batch in our runs (docs/reliability.md), so
        scenarios start producing only once every log directory exists.
        """
        data_dir = self.stack.kafka.data_dir
        wanted = [data_dir / f"{spec.name}-{p}" for spec in specs for p in range(spec.partitions)]
        deadline = time.monotonic() + timeout_s
        while not all(path.is_dir() for path in wanted):
            if time.monotonic() > deadline:
                missing = [path.name for path in wanted if not path.is_dir()]
                raise AssertionError(f"the broker did not create {missing[:5]} in {timeout_s}s")
            time.sleep(0.2)
        time.sleep(0.5)  # the directory appears as the log is created; let the leader settle

    def down(self, purge: bool = True) -> None:
        self.stack.down(purge=purge, say=lambda _msg: None)


def start_private_stack(state_dir: Path) -> PrivateStack:
    """Start Kafka (KRaft) and Redis under `state_dir` on ports nobody else uses."""
    settings = StackSettings(
        state_dir=state_dir,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        redis_port=free_port(),
        kafka_heap="384m",
        start_timeout_s=120.0,
    )
    stack = LocalStack(settings)
    try:
        stack.up(say=lambda _msg: None)
    except BaseException:
        stack.down(purge=True, say=lambda _msg: None)
        raise
    return PrivateStack(stack)


def _wait(check: object, timeout_s: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} was not healthy {timeout_s:.0f}s after its restart")
