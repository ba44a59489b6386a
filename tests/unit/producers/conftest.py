"""Fixtures of the producer unit tests: a port where no broker listens."""

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture()
def closed_port() -> Iterator[int]:
    """A local port bound but never listening: connections are refused, nobody else takes it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()
