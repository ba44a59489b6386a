"""Redis Cluster URLs and key layout: every key of one partition hashes to one slot."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot
from yarl import URL

from stream_processors.redis_connection import (
    cluster_nodes,
    faust_store_url,
    from_faust_store_url,
    split_password,
)
from stream_processors.redis_state import RedisLayout

CLUSTER = "redis+cluster://127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003"


def test_a_cluster_url_lists_its_nodes() -> None:
    assert cluster_nodes(CLUSTER) == [("127.0.0.1", p) for p in (17001, 17002, 17003)]
    assert cluster_nodes("redis://127.0.0.1:16379/0") is None


def test_a_cluster_url_survives_faust_url_parsing() -> None:
    parsed = str(URL(faust_store_url(CLUSTER)))  # what Faust hands the store
    assert from_faust_store_url(parsed) == CLUSTER
    assert faust_store_url("redis://h:1/0") == "redis://h:1/0"


def test_a_bad_node_is_named() -> None:
    with pytest.raises(ValueError, match="host:port"):
        cluster_nodes("redis+cluster://127.0.0.1")


def test_a_password_in_a_cluster_url_is_moved_out() -> None:
    url, user, password = split_password("rediss+cluster://app:s%40cret@h:1,h:2")
    assert (url, user, password) == ("rediss+cluster://h:1,h:2", "app", "s@cret")


@given(
    partition=st.integers(0, 1023),
    table=st.sampled_from(["sessions", "progress", "partials", "windows"]),
    start=st.integers(0, 2**41),
)
def test_every_key_of_a_partition_shares_its_slot(partition: int, table: str, start: int) -> None:
    layout = RedisLayout("fp:feedback-processor.ns", cluster=True)
    names = [
        layout.table_hash(table, partition),
        layout.table_hash(table, partition, start),
        layout.offsets_hash(partition),
        layout.owner(partition),
        layout.window_index(table, partition),
    ]
    assert len({key_slot(name.encode()) for name in names}) == 1
    assert layout.partition_of_hash(names[1], table) == partition
    assert layout.window_of_hash(names[1]) == start
    assert layout.window_of_hash(names[0]) is None


def test_the_single_server_layout_is_unchanged() -> None:
    layout = RedisLayout("fp:app")
    assert layout.table_hash("progress", 0) == "fp:app:t:progress:0"
    assert layout.offsets_hash(3) == layout.offsets == "fp:app:offsets"
    assert layout.owner(3) == "fp:app:owner:3"
    assert layout.window_indexes("partials", 12) == ["fp:app:windows:partials"]
    assert len(RedisLayout("fp:app", cluster=True).window_indexes("partials", 12)) == 12
