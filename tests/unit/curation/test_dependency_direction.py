"""Curation reads only the lake: it never imports the sinks, processors or producers."""

import ast
import gc
from pathlib import Path

import curation

FORBIDDEN = ("sinks", "stream_processors", "producers")


def _parse(source: str) -> ast.Module:
    """`ast.parse` without a garbage collection inside it. CPython 3.11 counts the AST
    constructor's recursion in state shared by threads (python/cpython#106905): a collection
    that runs a Python callback mid-parse (the processor runtime's gc timer, left by the
    integration tests run in the same process) lets another thread's compile change the count,
    and the parse fails with "SystemError: AST constructor recursion depth mismatch" (once in
    a full CI run on 7 Dec)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source)
    finally:
        if enabled:
            gc.enable()


def test_curation_imports_no_pipeline_stage() -> None:
    root = Path(curation.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(_parse(path.read_text())):
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
