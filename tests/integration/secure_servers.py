"""Servers of the secure-transport test (no tests here): certificates, SASL_SSL Kafka, TLS Redis.

Certificates are made with the openssl command line: a CA, a server certificate for 127.0.0.1
and localhost (Kafka and Redis), and a client certificate (Redis checks clients' ones).
"""

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from local_stack.kafka_node import KafkaNode, SaslSslListener
from local_stack.settings import StackSettings
from tests.e2e.pipeline_harness.private_stack import free_port

__all__ = [
    "Certificates",
    "TlsRedis",
    "make_certificates",
    "sasl_ssl_kafka",
    "stop_process",
    "tls_redis",
]

_SERVER_EXTENSIONS = """\
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA, the servers' key and certificate, a client's key and certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @property
    def server_keystore(self) -> Path:
        """Key and certificate in one file, as Kafka's PEM keystore wants them."""
        path = self.server_key.with_name("server-keystore.pem")
        if not path.exists():
            path.write_text(self.server_key.read_text() + self.server_cert.read_text())
        return path


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"openssl {' '.join(args)}:\n{result.stderr}"


def make_certificates(directory: Path) -> Certificates:
    """A fresh CA and the certificates it signs, valid for a day."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=feedback-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(_SERVER_EXTENSIONS)
    for name in ("server", "client"):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-out", f"{name}.pem", "-extfile", "server.ext",
            cwd=directory,
        )  # fmt: skip
    return Certificates(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )


@contextmanager
def sasl_ssl_kafka(
    state_dir: Path, certificates: Certificates, users: dict[str, str]
) -> Iterator[str]:
    """A Kafka node of the test's own with a SASL_SSL (SCRAM-SHA-256) listener; its address."""
    settings = StackSettings(
        state_dir=state_dir, kafka_port=free_port(), kafka_controller_port=free_port()
    )
    listener = SaslSslListener(
        port=free_port(),
        keystore=certificates.server_keystore,
        truststore=certificates.ca,
        users=users,
    )
    node = KafkaNode(settings, sasl_ssl=listener)
    node.start()
    try:
        deadline = time.monotonic() + 90
        while not node.healthy():  # through the PLAINTEXT listener, the broker's own
            assert node.process.pid is not None, node.process.log_tail()
            assert time.monotonic() < deadline, node.process.log_tail()
            time.sleep(0.5)
        yield f"{settings.host}:{listener.port}"
    finally:
        node.process.stop(20)


@dataclass(frozen=True)
class TlsRedis:
    """Where the TLS Redis listens and its AUTH password."""

    port: int
    password: str


@contextmanager
def tls_redis(state_dir: Path, certificates: Certificates, password: str) -> Iterator[TlsRedis]:
    """Debian's redis-server with TLS only (no plain port), client certificates and AUTH."""
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (state_dir / "redis.log").open("ab")
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(certificates.server_cert),
         "--tls-key-file", str(certificates.server_key),
         "--tls-ca-cert-file", str(certificates.ca),
         "--tls-auth-clients", "yes", "--requirepass", password,
         "--save", "", "--appendonly", "no", "--dir", str(state_dir)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        client = redis.Redis(
            port=port,
            password=password,
            ssl=True,
            ssl_ca_certs=str(certificates.ca),
            ssl_certfile=str(certificates.client_cert),
            ssl_keyfile=str(certificates.client_key),
            socket_timeout=2,
        )
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (state_dir / "redis.log").read_text()
            try:
                if client.ping():
                    break
            except redis.RedisError:
                assert time.monotonic() < deadline, (state_dir / "redis.log").read_text()
                time.sleep(0.1)
        client.close()
        yield TlsRedis(port, password)
    finally:
        stop_process(process, timeout_s=10)
        log.close()
