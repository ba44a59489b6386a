"""A Redis Cluster of the stack's Redis nodes: created once with `redis-cli --cluster create`.

The nodes keep the cluster in their `nodes.conf`, so a stopped and started cluster (or one
node restarted after it was killed, which comes back as a replica of whoever took over) needs
no second create. Hand-written around redis-cli: redis-py has no command that creates a
cluster, and redis-cli's `--cluster create` is what Redis documents.
"""

import shutil
import subprocess

import redis

from local_stack.exceptions import StackError
from local_stack.redis_node import RedisNode
from local_stack.settings import StackSettings

__all__ = ["RedisCluster"]


class RedisCluster:
    """The nodes of one Redis Cluster and the checks that they form a healthy one."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.nodes = [RedisNode(settings, i) for i in range(len(settings.redis_ports))]

    def created(self) -> bool:
        """True when the nodes already know each other (a cluster was created before)."""
        info = self._info(self.nodes[0])
        return info is not None and int(info.get("cluster_known_nodes", 1)) > 1

    def create(self) -> None:
        """Join the nodes: `redis_cluster` primaries, `redis_replicas` replicas each."""
        cli = shutil.which("redis-cli")
        if cli is None:
            raise StackError("redis-cli is not installed (Debian: apt-get install -y redis-tools)")
        result = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(node.address for node in self.nodes),
                "--cluster-replicas",
                str(self.settings.redis_replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise StackError(f"redis-cli --cluster create failed:\n{tail}")

    def healthy(self) -> bool:
        """Every node answers and says the cluster is ok (all slots served)."""
        for node in self.nodes:
            info = self._info(node)
            if info is None or info.get("cluster_state") != "ok":
                return False
        return True

    def serving(self) -> bool:
        """Every node that answers says the cluster is ok: all slots have a live primary (a
        killed node's replica took over), though not every node may be up."""
        infos = [self._info(node) for node in self.nodes]
        answering = [info for info in infos if info is not None]
        return bool(answering) and all(i.get("cluster_state") == "ok" for i in answering)

    def roles(self) -> dict[str, str]:
        """address -> "master" / "slave" (Redis's words) or "down"."""
        roles = {}
        for node in self.nodes:
            client = self._client(node)
            try:
                roles[node.address] = str(client.info("replication").get("role", "down"))
            except redis.RedisError:
                roles[node.address] = "down"
            finally:
                client.close()
        return roles

    def _info(self, node: RedisNode) -> dict[str, str] | None:
        client = self._client(node)
        try:
            raw = client.execute_command("CLUSTER INFO")
        except redis.RedisError:
            return None
        finally:
            client.close()
        if isinstance(raw, dict):  # redis-py parses the reply
            return {str(key): str(value) for key, value in raw.items()}
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
        return {key.strip(): value.strip() for key, value in pairs}

    def _client(self, node: RedisNode) -> redis.Redis:
        return redis.Redis(
            host=self.settings.host, port=node.port, socket_timeout=1.0, socket_connect_timeout=1.0
        )
