"""FEEDBACK_KAFKA_* into librdkafka settings and an SSL context; incomplete settings refused."""

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from plumbing.kafka_security import KafkaSecuritySettings, kafka_client_config


def test_plaintext_is_the_default_and_adds_nothing_but_the_protocol() -> None:
    security = KafkaSecuritySettings()
    assert security.librdkafka_config() == {"security.protocol": "PLAINTEXT"}
    assert security.ssl_context() is None


def test_sasl_ssl_from_the_environment_becomes_librdkafka_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDBACK_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("FEEDBACK_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("FEEDBACK_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("FEEDBACK_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("FEEDBACK_KAFKA_SSL_CA_LOCATION", "/etc/ca.pem")
    config = kafka_client_config("b:9094", {"group.id": "g", "sasl.username": "override"})
    assert config == {
        "bootstrap.servers": "b:9094",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "override",  # the client's own settings come last
        "sasl.password": "hunter2",
        "ssl.ca.location": "/etc/ca.pem",
        "ssl.endpoint.identification.algorithm": "https",
        "group.id": "g",
    }


def test_the_password_never_shows_in_the_settings_repr() -> None:
    security = KafkaSecuritySettings(
        security_protocol="SASL_PLAINTEXT", sasl_username="svc", sasl_password="hunter2"
    )
    assert "hunter2" not in repr(security)
    assert "hunter2" not in str(security.model_dump())
    assert "ssl.ca.location" not in security.librdkafka_config()  # no TLS: no TLS settings


@pytest.mark.parametrize(
    "values",
    [
        {"security_protocol": "SASL_SSL"},
        {"security_protocol": "SASL_PLAINTEXT", "sasl_username": "svc"},
        {"security_protocol": "SSL", "ssl_certificate_location": "/c.pem"},
    ],
)
def test_incomplete_settings_are_refused_when_loaded(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        KafkaSecuritySettings(**values)  # type: ignore[arg-type]


def test_an_unknown_kafka_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_KAFKA_SASL_PASSWROD", "x")
    with pytest.raises(Exception, match="FEEDBACK_KAFKA_SASL_PASSWORD"):
        KafkaSecuritySettings()


def test_tls_gives_a_verifying_context_and_the_hostname_switch(tmp_path: Path) -> None:
    checked = KafkaSecuritySettings(security_protocol="SSL").ssl_context()
    assert checked is not None
    assert checked.verify_mode == ssl.CERT_REQUIRED and checked.check_hostname
    unchecked = KafkaSecuritySettings(security_protocol="SSL", ssl_check_hostname=False)
    context = unchecked.ssl_context()
    assert context is not None and not context.check_hostname
    assert unchecked.librdkafka_config()["ssl.endpoint.identification.algorithm"] == "none"
