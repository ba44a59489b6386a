"""OTLP/JSON (hex ids) and OTLP/protobuf decode to the same spans."""

import pytest

from gateway.otlp import OtlpDecodeError, decode_request, encode_response, spans_of
from tests.integration.gateway.otlp_payloads import chat_export, otlp_json


def test_json_and_protobuf_give_the_same_spans() -> None:
    export = chat_export("conv-1")
    from_proto = list(
        spans_of(decode_request(export.SerializeToString(), "application/x-protobuf"))
    )
    from_json = list(spans_of(decode_request(otlp_json(export), "application/json")))
    assert from_proto == from_json
    chat = from_proto[0]
    assert len(chat.trace_id) == 32 and len(chat.span_id) == 16
    assert chat.attribute("gen_ai.conversation.id") == "conv-1"
    assert chat.attribute("service.version") == "2.0.0"  # from the resource
    assert from_proto[1].parent_span_id == chat.span_id


def test_garbage_is_a_decode_error() -> None:
    with pytest.raises(OtlpDecodeError):
        decode_request(b"\x0a\xff\xff", "application/x-protobuf")
    with pytest.raises(OtlpDecodeError):
        decode_request(b'{"resourceSpans": 5}', "application/json")


def test_partial_success_in_both_encodings() -> None:
    assert b"rejectedSpans" in encode_response("application/json", 2, "bad spans")
    assert encode_response("application/x-protobuf") == b""
