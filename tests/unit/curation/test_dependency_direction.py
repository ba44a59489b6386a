"""Curation reads only the lake: it never imports the sinks, processors or producers."""

import ast
from pathlib import Path

import curation

FORBIDDEN = ("sinks", "stream_processors", "producers")


def test_curation_imports_no_pipeline_stage() -> None:
    root = Path(curation.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}" for name in names if name.split(".")[0] in FORBIDDEN
            ]
    assert len(list(root.rglob("*.py"))) > 10
    assert offenders == []
