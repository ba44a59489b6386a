"""How every service authenticates to Kafka and encrypts its connections (FEEDBACK_KAFKA_*).

One set of variables for the whole project, because the producer SDK, the processor, the sink,
the dashboard, replays and the CLI all talk to the same cluster with the same credentials;
a setting per service would let them drift apart. `KafkaSecuritySettings` is translated once
into librdkafka settings (`librdkafka_config`, for every confluent-kafka client) and into a
`ssl.SSLContext` (for the processor's aiokafka clients, whose Faust credentials are built in
`stream_processors.kafka_credentials`). A service's own `kafka_config` (JSON) is applied after
these, so it can still override one key.

Every client is built through `kafka_client_config`, which reads the variables when it is
called: a process started with FEEDBACK_KAFKA_* set uses them everywhere, with no settings
object to pass down.
"""

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from plumbing.environment import ENV_PREFIX
from plumbing.settings import ServiceSettings

__all__ = [
    "KAFKA_ENV_PREFIX",
    "KafkaSecuritySettings",
    "SecurityProtocol",
    "kafka_client_config",
    "kafka_security",
]

KAFKA_ENV_PREFIX = f"{ENV_PREFIX}KAFKA_"
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSecuritySettings(ServiceSettings):
    """Security protocol, SASL credentials and TLS files of every Kafka client of the project."""

    model_config = SettingsConfigDict(env_prefix=KAFKA_ENV_PREFIX)

    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_mechanism: SaslMechanism = Field(
        "PLAIN", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* only)."
    )
    sasl_username: str | None = Field(None, description="SASL user (SASL_* protocols).")
    sasl_password: SecretStr | None = Field(None, description="SASL password; never logged.")
    ssl_ca_location: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the brokers' certificates; "
        "unset: the system's CAs.",
    )
    ssl_certificate_location: Path | None = Field(
        None, description="Client certificate (PEM), for brokers that require mutual TLS."
    )
    ssl_key_location: Path | None = Field(None, description="Client private key (PEM).")
    ssl_key_password: SecretStr | None = Field(
        None, description="Password of an encrypted client key; never logged."
    )
    ssl_check_hostname: bool = Field(
        True,
        description="Check that the broker's certificate names the host connected to. Turn "
        "off only for a test cluster whose certificates name no reachable host.",
    )

    @model_validator(mode="after")
    def _complete(self) -> "KafkaSecuritySettings":
        """Refuse combinations a client would only fail on at its first connection."""
        if self.sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs FEEDBACK_KAFKA_SASL_USERNAME "
                "and FEEDBACK_KAFKA_SASL_PASSWORD"
            )
        if (self.ssl_certificate_location is None) != (self.ssl_key_location is None):
            raise ValueError(
                "set both FEEDBACK_KAFKA_SSL_CERTIFICATE_LOCATION and "
                "FEEDBACK_KAFKA_SSL_KEY_LOCATION, or neither"
            )
        return self

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def librdkafka_config(self) -> dict[str, str]:
        """The librdkafka settings (confluent-kafka) of this protocol; holds the password in
        clear, so never log the result."""
        config: dict[str, str] = {"security.protocol": self.security_protocol}
        if self.sasl:
            assert self.sasl_username is not None and self.sasl_password is not None
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.tls:
            if self.ssl_ca_location is not None:
                config["ssl.ca.location"] = str(self.ssl_ca_location)
            if self.ssl_certificate_location is not None and self.ssl_key_location is not None:
                config["ssl.certificate.location"] = str(self.ssl_certificate_location)
                config["ssl.key.location"] = str(self.ssl_key_location)
            if self.ssl_key_password is not None:
                config["ssl.key.password"] = self.ssl_key_password.get_secret_value()
            config["ssl.endpoint.identification.algorithm"] = (
                "https" if self.ssl_check_hostname else "none"
            )
        return config

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of a Python (aiokafka) client; None without TLS."""
        if not self.tls:
            return None
        cafile = str(self.ssl_ca_location) if self.ssl_ca_location is not None else None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certificate_location is not None and self.ssl_key_location is not None:
            context.load_cert_chain(
                str(self.ssl_certificate_location),
                str(self.ssl_key_location),
                self.ssl_key_password.get_secret_value() if self.ssl_key_password else None,
            )
        return context


def kafka_security() -> KafkaSecuritySettings:
    """The Kafka security settings of this process, read from FEEDBACK_KAFKA_* now."""
    return KafkaSecuritySettings()


def kafka_client_config(
    bootstrap_servers: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """librdkafka configuration of a client of `bootstrap_servers`: the security settings,
    then `extra` (the client's own settings, and a service's `kafka_config` overrides)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        **kafka_security().librdkafka_config(),
        **(extra or {}),
    }
