"""docs/producer.md stays true to the code: every setting is in its table, and only those."""

import re
from pathlib import Path

from producers.settings import ProducerSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "producer.md"


def test_the_settings_table_lists_every_setting() -> None:
    section = DOC.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    assert documented == set(ProducerSettings.model_fields)
