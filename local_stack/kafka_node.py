"""A single Apache Kafka node in KRaft mode (broker and controller in one JVM) on loopback.

Its PLAINTEXT listener serves the local stack; a `SaslSslListener` adds an authenticated, encrypted
one (tests of the FEEDBACK_KAFKA_* client security, docs/deploy.md Security).
"""

import base64
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from local_stack.exceptions import StackError
from local_stack.maven import kafka_classpath
from local_stack.processes import ServiceProcess, accepts_connections
from local_stack.replication import min_insync_replicas
from local_stack.settings import StackSettings

__all__ = ["KafkaNode", "SaslSslListener", "new_cluster_id"]

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = {level}
logger.apache.name = org.apache.kafka
logger.apache.level = {level}
"""


@dataclass(frozen=True)
class SaslSslListener:
    """A SASL_SSL listener next to the PLAINTEXT one, which stays for the broker itself.

    TLS files are PEM: `keystore` holds the broker's unencrypted PKCS#8 private key and its
    certificate chain, `truststore` the CA certificates. SCRAM users are written into the
    storage when it is formatted (Kafka's `--add-scram`), so they exist from the first start;
    a node formatted without them needs `kafka-configs --alter --add-config SCRAM-...`.
    """

    port: int
    keystore: Path
    truststore: Path
    users: Mapping[str, str] = field(default_factory=dict)  # name -> password
    mechanism: str = "SCRAM-SHA-256"

    def properties(self, host: str) -> dict[str, str]:
        """The broker settings this listener adds (its address in listeners is the caller's)."""
        login = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            + " ".join(f'user_{name}="{password}"' for name, password in self.users.items())
            if self.mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule required"
        )
        return {
            "sasl.enabled.mechanisms": self.mechanism,
            f"listener.name.sasl_ssl.{self.mechanism.lower()}.sasl.jaas.config": f"{login};",
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": str(self.keystore.resolve()),
            "listener.name.sasl_ssl.ssl.truststore.type": "PEM",
            "listener.name.sasl_ssl.ssl.truststore.location": str(self.truststore.resolve()),
        }

    def scram_arguments(self) -> list[str]:
        """`kafka-storage format` arguments that create the SCRAM users."""
        if not self.mechanism.startswith("SCRAM-"):
            return []
        arguments = []
        for name, password in self.users.items():
            arguments += ["--add-scram", f"{self.mechanism}=[name={name},password={password}]"]
        return arguments


def _server_properties(
    settings: StackSettings,
    data_dir: Path,
    sasl_ssl: SaslSslListener | None = None,
    node_id: int = 1,
) -> str:
    host = settings.host
    port = settings.broker_ports[node_id - 1]
    cport = settings.controller_ports[node_id - 1]
    listeners = f"PLAINTEXT://{host}:{port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if sasl_ssl is not None:
        listeners += f",SASL_SSL://{host}:{sasl_ssl.port}"
        protocols += ",SASL_SSL:SASL_SSL"
    replicas = settings.replication_factor
    min_isr = str(min_insync_replicas(replicas))
    if settings.brokers == 1:
        quorum = {"controller.quorum.bootstrap.servers": f"{host}:{cport}"}
    else:
        # A static quorum: every node is a voter, known from the start (formatted without
        # --standalone); any two of three keep the metadata log available.
        voters = ",".join(f"{i + 1}@{host}:{p}" for i, p in enumerate(settings.controller_ports))
        quorum = {"controller.quorum.voters": voters}
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        **quorum,
        "listeners": f"{listeners},CONTROLLER://{host}:{cport}",
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        "log.dirs": str(data_dir.resolve()),
        "num.partitions": "1",
        # One replica on a single node; three (two in sync to acknowledge acks=all) on a cluster
        # (local_stack.replication).
        "default.replication.factor": str(replicas),
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": min_isr,
        "unclean.leader.election.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        # Retention is checked every 5 s (Kafka's default: 5 min), so that tests see what it
        # deletes: records whose timestamps are older than their topic's retention go at once.
        "log.retention.check.interval.ms": "5000",
        # Topics come from the topic registry; a typo must not create a topic silently.
        "auto.create.topics.enable": "false",
        "message.max.bytes": str(16 * 1024 * 1024),
        "replica.fetch.max.bytes": str(16 * 1024 * 1024),
        # A controlled shutdown moves leadership to another replica first. One node has none:
        # its partitions went leaderless while the broker still answered produce requests, and
        # once in ~20 restarts an acknowledged record was missing afterwards (docs/reliability.md,
        # Findings). Without it the broker just closes its logs. A cluster has other replicas:
        # there it is on.
        "controlled.shutdown.enable": "true" if settings.brokers > 1 else "false",
        **(sasl_ssl.properties(host) if sasl_ssl is not None else {}),
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


class KafkaNode:
    """Writes the node's config, formats its storage once, starts and stops the JVM."""

    def __init__(
        self,
        settings: StackSettings,
        sasl_ssl: SaslSslListener | None = None,
        node_id: int = 1,
        cluster_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.sasl_ssl = sasl_ssl
        self.node_id = node_id
        # Every node of a cluster is formatted with the same id (the stack picks it).
        self.cluster_id = cluster_id
        single = settings.brokers == 1
        self.name = "kafka" if single else f"kafka-{node_id}"
        self.home = settings.state_dir / self.name
        self.data_dir = self.home / "data"
        self.port = settings.broker_ports[node_id - 1]
        self.process = ServiceProcess(self.name, self.home / "kafka.pid", self.home / "stdout.log")

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    def start(self) -> int:
        if shutil.which("java") is None:
            raise StackError(
                "Java is not installed; Kafka needs Java 17 or newer "
                "(Debian: apt-get install -y openjdk-17-jre-headless)."
            )
        classpath = kafka_classpath(
            self.settings.cache_dir, self.settings.kafka_version, self.settings.log4j_version
        )
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(
            _server_properties(self.settings, self.data_dir, self.sasl_ssl, self.node_id)
        )
        log4j = self.home / "log4j2.properties"
        log4j.write_text(
            _LOG4J2.format(log_dir=self.home.resolve(), level=self.settings.kafka_log_level)
        )
        if not (self.data_dir / "meta.properties").exists():
            self._format(classpath, config)
        heap = self.settings.kafka_heap
        argv = [
            "java",
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j.resolve()}",
            f"-Dkafka.logs.dir={self.home.resolve()}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config.resolve()),
        ]
        return self.process.start(argv)

    def _format(self, classpath: str, config: Path) -> None:
        cluster_id = self.cluster_id or new_cluster_id()
        # One node bootstraps its own dynamic quorum; a cluster's voters are in its config.
        standalone = ["--standalone"] if self.settings.brokers == 1 else []
        result = subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                *standalone,
                "-t",
                cluster_id,
                "-c",
                str(config.resolve()),
                *(self.sasl_ssl.scram_arguments() if self.sasl_ssl is not None else []),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def healthy(self, timeout_s: float = 2.0) -> bool:
        """True when the broker answers a metadata request (on a cluster: and lists itself, so
        it has registered with the controller quorum)."""
        if not accepts_connections(self.settings.host, self.port):
            return False
        admin = AdminClient({"bootstrap.servers": self.address, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except Exception:
            return False
        return (
            self.node_id in metadata.brokers
            if self.settings.brokers > 1
            else bool(metadata.brokers)
        )


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url of a UUID), never starting with "-": the storage
    tool would read that as an option (Kafka's own `random-uuid` avoids it the same way)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
