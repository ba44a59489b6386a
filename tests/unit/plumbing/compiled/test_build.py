"""The build's module list, the files that must know about the build, and the repository's own
build when `make setup` made one (CI always does): compiled modules load, stale ones do not."""

import json
import os
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from plumbing.compiled.build import GROUP, MODULES, is_current, planned_manifest
from plumbing.compiled.manifest import Manifest, ext_suffix, source_path

ROOT = Path(__file__).resolve().parents[4]
REPO_BUILD = ROOT / ".compiled"


def test_the_group_is_the_worker_pure_logic() -> None:
    assert all(m.startswith("stream_processors.") for m in MODULES)
    assert all((ROOT / source_path(m)).is_file() for m in MODULES)
    manifest = planned_manifest(ROOT)
    assert manifest.modules == list(MODULES)
    assert manifest.group_library == GROUP + "__mypyc"
    assert set(manifest.sources) == {source_path(m) for m in MODULES}


def test_an_empty_directory_is_not_current(tmp_path: Path) -> None:
    assert not is_current(ROOT, tmp_path)


def test_make_rebuilds_when_a_compiled_module_or_the_build_changes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (patterns,) = re.findall(r"^COMPILED_INPUTS := \$\(wildcard (.+)\)$", makefile, re.M)
    inputs = [source_path(m) for m in MODULES] + ["plumbing/compiled/build.py"]
    for path in inputs:
        assert any(fnmatch(path, pattern) for pattern in patterns.split()), path
    assert re.search(r"^setup: .*\$\(COMPILED\)", makefile, re.M)


def test_the_build_stays_out_of_git_and_of_the_image_context() -> None:
    assert "/.compiled/" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".compiled" in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()


@pytest.fixture(scope="module")
def repo_build() -> Path:
    """The repository's build, when it matches the sources as the loader requires."""
    try:
        manifest = Manifest.read(REPO_BUILD)
    except (OSError, ValueError, TypeError):
        manifest = None
    if (
        manifest is None
        or manifest.ext_suffix != ext_suffix()
        or manifest.changed_sources(ROOT)
        or manifest.missing_libraries(REPO_BUILD)
    ):
        pytest.skip("no current build in .compiled (`make setup` makes one; CI always does)")
    return REPO_BUILD


def _load(build: Path, **env: str) -> tuple[dict[str, str], str]:
    """Each module's file and the warnings, importing as the worker does in a fresh interpreter."""
    script = (
        "import importlib, json\n"
        f"files = {{m: importlib.import_module(m).__file__ for m in {list(MODULES)!r}}}\n"
        "print(json.dumps(files))\n"
    )
    environment = {
        k: v for k, v in os.environ.items() if k not in ("FEEDBACK_PURE_PYTHON", "PYTHONWARNINGS")
    }
    environment.update(FEEDBACK_COMPILED_DIR=str(build), **env)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout), done.stderr


def test_a_current_build_is_what_the_worker_imports(repo_build: Path) -> None:
    files, warnings = _load(repo_build)
    for module, path in files.items():
        assert path.startswith(str(repo_build)) and path.endswith(ext_suffix()), module
    assert "StaleCompiledWarning" not in warnings


def test_an_edited_module_runs_as_pure_python_with_one_warning(
    repo_build: Path, tmp_path: Path
) -> None:
    stale = tmp_path / "compiled"
    shutil.copytree(repo_build, stale)
    manifest = json.loads((stale / "manifest.json").read_text())
    manifest["sources"]["stream_processors/labels.py"] = "0" * 64  # as if labels.py was edited
    (stale / "manifest.json").write_text(json.dumps(manifest))
    files, warnings = _load(stale)
    for module, path in files.items():
        assert path == str(ROOT / source_path(module)), module
    assert warnings.count("StaleCompiledWarning") == 1
    assert "stream_processors/labels.py" in warnings and "make setup" in warnings


def test_pure_python_on_request_despite_a_current_build(repo_build: Path) -> None:
    files, warnings = _load(repo_build, FEEDBACK_PURE_PYTHON="1")
    for module, path in files.items():
        assert path == str(ROOT / source_path(module)), module
    assert "StaleCompiledWarning" not in warnings
