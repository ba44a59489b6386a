"""deploy/Dockerfile, checked statically (the image is not built on the project's machines)."""

import json
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from tests.unit.deploy.conftest import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
IGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            if pending.strip():
                joined.append(pending.strip())
            pending = ""
    return [(text.split(" ", 1)[0].upper(), text.split(" ", 1)[1]) for text in joined]


def test_base_user_and_entrypoint() -> None:
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    kinds = [kind for kind, _ in instructions]
    last_user = max(i for i, kind in enumerate(kinds) if kind == "USER")
    assert instructions[last_user][1] not in ("root", "0")
    assert "RUN" not in kinds[last_user:], "every RUN happens before dropping root"
    assert json.loads(dict(instructions)["ENTRYPOINT"]) == ["feedbackctl"]
    exposed = {int(p) for kind, args in instructions if kind == "EXPOSE" for p in args.split()}
    assert {8050, 9101, 9102} <= exposed


def test_dependency_layer_installs_exactly_the_project_dependencies() -> None:
    """The RUN that writes requirements.txt gives pyproject's dependencies, one a line."""
    (run,) = [
        args
        for kind, args in _instructions()
        if "requirements.txt" in args and kind == "RUN" and "tomllib" in args
    ]
    snippet = run.split('python -c "', 1)[1].split('"', 1)[0]
    output = subprocess.run(
        [sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert output.splitlines() == expected


def test_build_context_keeps_every_package() -> None:
    """The ignore file must not drop a package the install needs (or pyproject/README)."""
    patterns = [
        line.strip()
        for line in IGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    needed = [*packages, "pyproject.toml", project["project"]["readme"]]
    for name in needed:
        assert (ROOT / name).exists(), name
        assert not any(fnmatch(name, pattern) for pattern in patterns), name


def test_static_assets_are_package_data() -> None:
    """The page's files ship in the wheel (a missing glob gives a blank page in the image)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["dashboard"]
    static = [
        p.relative_to(ROOT / "dashboard").as_posix()
        for p in (ROOT / "dashboard" / "static").iterdir()
    ]
    assert static
    for asset in static:
        assert any(fnmatch(asset, pattern) for pattern in globs), asset


def test_paths_copied_exist() -> None:
    for kind, args in _instructions():
        if kind == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert Path(ROOT / source).exists(), source


def test_compiled_modules_are_built_with_the_dev_mypy_and_found_by_the_worker() -> None:
    """The image's mypyc build uses the mypy the dev extra pins, writes where the installed package
    is told to look, and leaves no compiler or mypy behind in its layer."""
    instructions = _instructions()
    (run,) = [args for kind, args in instructions if kind == "RUN" and "plumbing.compiled" in args]
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (mypy,) = [r for r in dev["dev"] if r.startswith("mypy")]
    assert f'"{mypy}"' in run
    out = run.split("plumbing.compiled build --out ", 1)[1].split()[0]
    env = " ".join(args for kind, args in instructions if kind == "ENV")
    assert f"FEEDBACK_COMPILED_DIR={out}" in env
    assert "apt-get purge -y --auto-remove gcc" in run and "rm -rf /tmp/mypyc" in run
