"""The README stays true: its topic table is the registry, its two commands are make targets."""

import re
from pathlib import Path

from schemas.topics import TOPICS

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()
_DAY_MS = 24 * 3600 * 1000


def test_topic_table_matches_the_registry():
    rows = re.findall(
        r"^\| (agent\.[\w.]+) \| (.+?) \| (.+?) \| (\d+) \| (\d+) days \|$", README, re.M
    )
    table = {name: (key, record, int(parts), int(days)) for name, key, record, parts, days in rows}
    registry = {
        spec.name: (spec.key, spec.value_record, spec.partitions, spec.retention_ms // _DAY_MS)
        for spec in TOPICS
    }
    assert table == registry


def test_the_two_setup_commands_are_make_targets():
    commands = re.findall(r"^make (\w+)\s+#", README, re.M)
    assert commands == ["demo", "test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in commands:
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
