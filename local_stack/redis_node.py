"""A Redis server on loopback with AOF on: durability is part of the state store's contract.

In a Redis Cluster (`StackSettings.redis_cluster`) each node is such a server with cluster mode
on; `local_stack.redis_cluster` joins them.
"""

import shutil

import redis

from local_stack.exceptions import StackError
from local_stack.processes import ServiceProcess
from local_stack.settings import StackSettings

__all__ = ["RedisNode"]

# A primary that does not answer for cluster-node-timeout is failed over to its replica; 3 s
# (Redis's default: 15 s) keeps a worker's hold on its checkpoint short. A replica takes over
# however stale it is: the store waits for one replica after each checkpoint instead
# (stream_processors/redis_state.py).
_CLUSTER_LINES = [
    "cluster-enabled yes",
    "cluster-config-file nodes.conf",
    "cluster-node-timeout 3000",
    "cluster-replica-validity-factor 0",
]


class RedisNode:
    """Writes redis.conf into the state directory and runs Debian's redis-server with it."""

    def __init__(self, settings: StackSettings, index: int = 0) -> None:
        self.settings = settings
        self.cluster = settings.redis_cluster > 0
        self.name = f"redis-{index + 1}" if self.cluster else "redis"
        self.port = settings.redis_ports[index]
        self.home = settings.state_dir / self.name
        self.process = ServiceProcess(self.name, self.home / "redis.pid", self.home / "redis.log")

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    def start(self) -> int:
        server = shutil.which(self.settings.redis_server)
        if server is None:
            raise StackError(
                f"{self.settings.redis_server} is not installed "
                "(Debian: apt-get install -y redis-server)."
            )
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "redis.conf"
        config.write_text(
            "\n".join(
                [
                    f"bind {self.settings.host}",
                    f"port {self.port}",
                    "protected-mode yes",
                    "daemonize no",
                    f"dir {self.home.resolve()}",
                    "appendonly yes",
                    "appendfsync everysec",
                    "save 300 100",
                    "maxmemory-policy noeviction",
                    *(_CLUSTER_LINES if self.cluster else []),
                    "",
                ]
            )
        )
        return self.process.start([server, str(config.resolve())])

    def healthy(self, timeout_s: float = 1.0) -> bool:
        """True when Redis answers PING."""
        client = redis.Redis(
            host=self.settings.host,
            port=self.port,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
