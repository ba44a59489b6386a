import pytest

from curation.exceptions import LakeTableMissingError
from curation.source import read_enriched
from tests.unit.curation.enriched_factory import make_turn, write_enriched


def test_keeps_the_highest_revision_and_collapses_duplicates(lake: str) -> None:
    first = make_turn("s", 0, reward=0.1)
    revised = {**first, "revision": 1, "reward": 0.8, "kafka_offset": 7}
    other = make_turn("s", 1)
    write_enriched(lake, [first, other, other])
    write_enriched(lake, [revised, revised])
    snapshot = read_enriched(lake)
    assert snapshot.rows_read == 5
    assert snapshot.turns.height == 2
    kept = snapshot.turns.filter(snapshot.turns["event_id"] == first["event_id"])
    assert kept["revision"].to_list() == [1]
    assert kept["reward"].to_list() == [0.8]


def test_reads_a_pinned_version(lake: str) -> None:
    first = make_turn("s", 0, reward=0.1)
    write_enriched(lake, [first])
    write_enriched(lake, [{**first, "revision": 1, "reward": 0.9}])
    old = read_enriched(lake, version=0)
    new = read_enriched(lake)
    assert (old.version, new.version) == (0, 1)
    assert old.turns["reward"].to_list() == [0.1]
    assert new.turns["reward"].to_list() == [0.9]


def test_missing_table_or_version_is_a_clear_error(lake: str) -> None:
    with pytest.raises(LakeTableMissingError, match="no Delta table"):
        read_enriched(lake)
    write_enriched(lake, [make_turn()])
    with pytest.raises(LakeTableMissingError, match="no version 5"):
        read_enriched(lake, version=5)
