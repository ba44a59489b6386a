"""A Redis server on loopback with AOF on: durability is part of the state store's contract."""

import shutil

import redis

from local_stack.exceptions import StackError
from local_stack.processes import ServiceProcess
from local_stack.settings import StackSettings

__all__ = ["RedisNode"]


class RedisNode:
    """Writes redis.conf into the state directory and runs Debian's redis-server with it."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "redis"
        self.process = ServiceProcess("redis", self.home / "redis.pid", self.home / "redis.log")

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.redis_port}"

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
                    f"port {self.settings.redis_port}",
                    "protected-mode yes",
                    "daemonize no",
                    f"dir {self.home.resolve()}",
                    "appendonly yes",
                    "appendfsync everysec",
                    "save 300 100",
                    "maxmemory-policy noeviction",
                    "",
                ]
            )
        )
        return self.process.start([server, str(config.resolve())])

    def healthy(self, timeout_s: float = 1.0) -> bool:
        """True when Redis answers PING."""
        client = redis.Redis(
            host=self.settings.host,
            port=self.settings.redis_port,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
