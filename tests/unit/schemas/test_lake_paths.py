"""Namespaces and table prefixes cannot lead outside the lake root."""

import pytest

from schemas.exceptions import LakePathError
from schemas.lake import RAW_EVENTS
from schemas.lake_paths import check_namespace, check_table_name, check_table_prefix

OUTSIDE = ["../other", "..", ".", "/etc", "a/../b", "s3://bucket/x", "a\\\\b", "-x", ".hidden"]


@pytest.mark.parametrize("namespace", ["", "replay-1", "test-9ace57dc38", "r_2.v1"])
def test_plain_namespaces_pass(namespace: str) -> None:
    assert check_namespace(namespace) == namespace


@pytest.mark.parametrize("namespace", [*OUTSIDE, "a/b", "a/"])
def test_namespaces_that_are_no_plain_name_are_refused(namespace: str) -> None:
    with pytest.raises(LakePathError, match="namespace"):
        check_namespace(namespace)


@pytest.mark.parametrize("prefix", ["", "replay-1/", "a/b/", "tmp_", "replay-1/tmp_"])
def test_relative_prefixes_pass(prefix: str) -> None:
    assert check_table_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", [f"{p}/" for p in OUTSIDE] + ["../", "/", "//", "a//b/", "../../x/", "C:/x/"]
)
def test_prefixes_leading_outside_the_root_are_refused(prefix: str) -> None:
    with pytest.raises(LakePathError, match="prefix"):
        check_table_prefix(prefix)
    with pytest.raises(LakePathError):
        RAW_EVENTS.path("/data/lake", prefix)


def test_table_names_are_plain_names() -> None:
    assert check_table_name("raw_events") == "raw_events"
    for name in ("../raw_events", "a/b", ""):
        with pytest.raises(LakePathError):
            check_table_name(name)
