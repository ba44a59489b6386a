"""The worker's Kafka security for Faust: FEEDBACK_KAFKA_* as `broker_credentials`.

Faust's own clients (aiokafka: the consumer group, its producer, topic creation) take one
credentials object; the worker's confluent-kafka clients (outputs, end offsets) read the same
settings through `plumbing.kafka_security.kafka_client_config`, so both speak the same protocol.
"""

from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from plumbing.kafka_security import KafkaSecuritySettings

__all__ = ["faust_credentials"]


def faust_credentials(security: KafkaSecuritySettings) -> CredentialsT | None:
    """Faust `broker_credentials` for `security`; None for PLAINTEXT (Faust's default)."""
    context = security.ssl_context()
    if security.sasl:
        assert security.sasl_password is not None
        # With an ssl_context Faust sets SASL_SSL, without one SASL_PLAINTEXT.
        return SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=security.sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None
