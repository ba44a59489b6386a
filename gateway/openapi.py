"""The OpenAPI 3.1 document of the gateway, made from the typed dicts it reads and answers."""

from typing import Any, get_type_hints

import typing_extensions
from pydantic import TypeAdapter

from gateway import models

__all__ = ["openapi_document"]

_KIND_SCHEMAS = {
    "interaction": models.InteractionFields,
    "feedback": models.FeedbackFields,
    "signal": models.SignalFields,
}
_ANSWERS = {
    "BatchAnswer": models.BatchAnswer,
    "ErrorAnswer": models.ErrorAnswer,
}
_FIELDS_DOC = (
    "The keyword arguments of the producer SDK's log_* call of this kind (docs/producer.md): the "
    "same checks apply (UUID ids, epoch-ms or RFC 3339 event_time, text sizes, value fields that "
    "match `kind`...). Unknown fields are refused."
)
_ROUTES = {"interaction": "/v1/interactions", "feedback": "/v1/feedback", "signal": "/v1/signals"}


def _readable(kind: Any) -> Any:
    """The same typed dict as a `typing_extensions.TypedDict`: the SDK's are `typing` ones,
    which pydantic reads only on Python 3.12+."""
    if kind.__module__ != "producers.records":
        return kind
    readable = typing_extensions.TypedDict(  # type: ignore[misc]
        kind.__name__, get_type_hints(kind, include_extras=True)
    )
    readable.__doc__ = _FIELDS_DOC
    return readable


def _schema(kind: Any) -> dict[str, Any]:
    schema = TypeAdapter(_readable(kind)).json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {"schema": schema, "defs": definitions}


def openapi_document(version: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    for name, kind in {
        **{k.title() + "Fields": v for k, v in _KIND_SCHEMAS.items()},
        **_ANSWERS,
    }.items():
        made = _schema(kind)
        components.update(made["defs"])
        components[name] = made["schema"]
        if name.endswith("Fields") and name != "FieldError":
            components[name]["additionalProperties"] = False
    components["Event"] = {
        "description": "An interaction, feedback or signal, told apart by `type`.",
        "oneOf": [
            {
                "allOf": [
                    {
                        "type": "object",
                        "properties": {"type": {"const": kind}},
                        "required": ["type"],
                    },
                    {"$ref": f"#/components/schemas/{kind.title()}Fields"},
                ]
            }
            for kind in _KIND_SCHEMAS
        ],
    }
    paths: dict[str, Any] = {
        "/v1/events": _post(
            "Send a batch of interactions, feedback and signals.",
            {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        ),
        "/v1/traces": {
            "post": {
                "summary": "OTLP/HTTP trace export (protobuf or JSON): GenAI spans become "
                "interactions and feedback (docs/gateway.md).",
                "security": [{"bearer": []}, {"apiKey": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-protobuf": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                        "application/json": {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "ExportTraceServiceResponse (partial_success when "
                        "GenAI spans broke the contract)."
                    },
                    **_errors(),
                },
            }
        },
        "/healthz": _get("The process is up."),
        "/readyz": _get("Kafka answers (503 while it does not: events then go to the spool)."),
        "/openapi.json": _get("This document."),
    }
    for name, route in _ROUTES.items():
        ref = {"$ref": f"#/components/schemas/{name.title()}Fields"}
        paths[route] = _post(
            f"Send one {name} (an object) or several (an array).",
            {"oneOf": [ref, {"type": "array", "items": ref}]},
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agent feedback gateway",
            "version": version,
            "description": "Events are checked with the producer SDK's contract and "
            "acknowledged once Kafka or the gateway's durable spool holds them.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _post(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    batch = {"$ref": "#/components/schemas/BatchAnswer"}
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}, {"apiKey": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "202": _json("Every event is stored.", batch),
                "400": _json("Some events were rejected (listed); the others are stored.", batch),
                "503": _json(
                    "Kafka is down and the spool is full: events listed as unavailable were not "
                    "stored; retry after Retry-After seconds.",
                    batch,
                ),
                **_errors(),
            },
        }
    }


def _errors() -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/ErrorAnswer"}
    return {
        "401": _json("Missing or wrong API key.", error),
        "408": _json("The body did not arrive in time.", error),
        "413": _json("The body or the batch is too large.", error),
        "429": _json("The key's rate limit: retry after Retry-After seconds.", error),
    }


def _get(summary: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": {"description": "OK"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
