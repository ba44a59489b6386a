"""JSON bodies: depth measured without recursion, non-JSON refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.bodies import BodyError, json_depth, read_json


def nested(depth: int) -> object:
    """`depth` arrays and objects around a number (a scalar adds no level)."""
    value: object = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@given(st.integers(1, 60))
def test_depth_of_nested_values(depth: int) -> None:
    assert json_depth(nested(depth), 100) == depth


def test_read_json_refuses_deep_and_broken_bodies() -> None:
    assert read_json(b'[{"a": [1, {"b": 2}]}]', 4) == [{"a": [1, {"b": 2}]}]
    with pytest.raises(BodyError, match="deeper than 3"):
        read_json(b'[{"a": [1, {"b": 2}]}]', 3)
    with pytest.raises(BodyError) as broken:
        read_json(b"[1,", 5)
    assert broken.value.status == 400
