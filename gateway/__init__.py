"""The HTTP gateway: agents that are not Python processes next to Kafka send events over HTTP.

`POST /v1/events` (and one route per kind) takes the SDK's records as JSON, checks them with the
SDK's own contract checks, and acknowledges each event once Kafka has it or it sits in the
gateway's durable spool; `POST /v1/traces` is an OTLP/HTTP receiver that turns GenAI spans into
interactions and feedback. Run it with `feedbackctl gateway serve`.
"""

from gateway.settings import GatewaySettings

__all__ = ["GatewaySettings"]
