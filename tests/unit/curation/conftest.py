"""Fixtures of the curation unit tests: a temporary lake root."""

from pathlib import Path

import pytest


@pytest.fixture()
def lake(tmp_path: Path) -> str:
    return str(tmp_path / "lake")
