"""The processor's ahead-of-time Avro readers are the run-time ones, generated (maybe compiled)."""

import random
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import default_catalog
from schemas.fast_reader import compile_reader
from schemas.reader_module import reader_module
from schemas.topics import INPUT_TOPICS
from stream_processors.avro_readers import READERS
from stream_processors.intake import EventDecoder
from tests.unit.schemas.test_fast_reader import (
    NOT_READ,
    bit_flips,
    compiled_record,
    fastavro_bytes,
    random_records,
)

ROOT = Path(__file__).resolve().parents[3]
INPUT_RECORDS = [spec.value_record for spec in INPUT_TOPICS]
NEWEST = [default_catalog().latest(name) for name in INPUT_RECORDS]


def test_the_checked_in_module_is_a_fresh_generation() -> None:
    checked_in = (ROOT / "stream_processors" / "avro_readers.py").read_text()
    assert checked_in == reader_module(INPUT_RECORDS), (
        "stream_processors/avro_readers.py is out of date: regenerate it with "
        f"`python -m schemas.reader_module {' '.join(INPUT_RECORDS)} "
        "> stream_processors/avro_readers.py`"
    )


def test_every_input_record_has_a_reader_for_its_newest_version() -> None:
    assert set(READERS) == {version.fingerprint for version in NEWEST}


@pytest.mark.parametrize("version", NEWEST, ids=lambda v: f"{v.full_name}-v{v.version}")
def test_reads_and_refuses_exactly_what_the_run_time_reader_does(version: Any) -> None:
    """Random records, then truncated, extended and bit-flipped ones: the same record (fields in
    the same order) or a refusal from both. The run-time reader is tested against fastavro."""
    ahead_of_time, run_time = READERS[version.fingerprint], compile_reader(version.plain)
    rng = random.Random(version.version)
    read = refused = 0
    for record in random_records(version, 60):
        body = fastavro_bytes(version.plain, record)
        candidates = [body, body[: len(body) // 2], body + b"\x00", *bit_flips(body, rng, 20)]
        for candidate in candidates:
            expected = compiled_record(run_time, candidate)
            got = compiled_record(ahead_of_time, candidate)
            assert got == expected, candidate
            if expected is NOT_READ:
                refused += 1
            else:
                assert list(got) == list(expected)
                read += 1
    assert read >= 60 and refused > 0


def test_the_event_decoder_reads_with_them() -> None:
    decoder = EventDecoder(list(INPUT_TOPICS), 1 << 20)
    for spec, version in zip(INPUT_TOPICS, NEWEST, strict=True):
        serializer = decoder._serializers[spec.name]
        assert serializer._compiled_reader is READERS[version.fingerprint]
        record = random_records(version, 1)[0]
        message = b"\xc3\x01" + version.fingerprint + fastavro_bytes(version.plain, record)
        assert decoder.decode_accepted(spec.name, message) == record
