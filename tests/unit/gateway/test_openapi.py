"""The OpenAPI document describes exactly the SDK builders' fields."""

import inspect

from gateway.openapi import openapi_document
from producers.records import build_feedback, build_interaction, build_signal


def test_request_schemas_name_the_builders_parameters() -> None:
    schemas = openapi_document("1.0")["components"]["schemas"]
    for name, builder in (
        ("InteractionFields", build_interaction),
        ("FeedbackFields", build_feedback),
        ("SignalFields", build_signal),
    ):
        parameters = inspect.signature(builder).parameters
        assert set(schemas[name]["properties"]) == set(parameters)
        required = {n for n, p in parameters.items() if p.default is inspect.Parameter.empty}
        assert set(schemas[name]["required"]) == required
        assert schemas[name]["additionalProperties"] is False
