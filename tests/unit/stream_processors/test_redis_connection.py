"""Redis AUTH and TLS settings: a password never stays in the URL, options for redis-py."""

import pytest
from pydantic import SecretStr, ValidationError

from plumbing.kafka_security import KafkaSecuritySettings
from stream_processors.kafka_credentials import faust_credentials
from stream_processors.redis_connection import split_password, unwrap_secrets
from stream_processors.settings import ProcessorSettings


def test_a_password_in_the_url_moves_to_the_secret_setting() -> None:
    settings = ProcessorSettings(redis_url="rediss://:p%40ss@cache.example:6380/0")
    assert settings.redis_url == "rediss://cache.example:6380/0"
    assert settings.redis_password is not None
    assert settings.redis_password.get_secret_value() == "p@ss"
    assert "p@ss" not in repr(settings) and "p%40ss" not in repr(settings)


def test_user_and_query_survive_the_split() -> None:
    url, user, password = split_password("rediss://app:pw@[::1]:6380/2?socket_timeout=1")
    assert (url, user, password) == ("rediss://[::1]:6380/2?socket_timeout=1", "app", "pw")
    assert split_password("redis://127.0.0.1:16379/0") == ("redis://127.0.0.1:16379/0", None, None)


def test_a_password_in_both_places_is_refused() -> None:
    with pytest.raises(ValidationError):
        ProcessorSettings(redis_url="rediss://:a@h:6380/0", redis_password="b")  # type: ignore[arg-type]


def test_client_options_keep_the_secret_until_unwrapped() -> None:
    settings = ProcessorSettings(
        redis_password="pw",  # type: ignore[arg-type]
        redis_ssl_ca_certs="/ca.pem",  # type: ignore[arg-type]
    )
    options = settings.redis_client_options()
    assert isinstance(options["password"], SecretStr)
    assert unwrap_secrets(options) == {"password": "pw", "ssl_ca_certs": "/ca.pem"}
    assert ProcessorSettings().redis_client_options() == {}


def test_faust_credentials_follow_the_protocol() -> None:
    assert faust_credentials(KafkaSecuritySettings()) is None
    sasl_ssl = faust_credentials(
        KafkaSecuritySettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username="svc",
            sasl_password="hunter2",  # type: ignore[arg-type]
        )
    )
    assert sasl_ssl is not None and sasl_ssl.protocol.value == "SASL_SSL"
    assert sasl_ssl.mechanism.value == "SCRAM-SHA-256"  # type: ignore[attr-defined]
    assert "hunter2" not in repr(sasl_ssl)
    plain = faust_credentials(
        KafkaSecuritySettings(
            security_protocol="SASL_PLAINTEXT",
            sasl_username="u",
            sasl_password="p",  # type: ignore[arg-type]
        )
    )
    assert plain is not None and plain.protocol.value == "SASL_PLAINTEXT"
    tls = faust_credentials(KafkaSecuritySettings(security_protocol="SSL"))
    assert tls is not None and tls.protocol.value == "SSL"
