"""The loader uses a build only while it matches: fake builds over a fake package, no compiler."""

import json
import sys
import warnings
from pathlib import Path

import pytest

from plumbing.compiled.loader import StaleCompiledWarning, use_compiled
from plumbing.compiled.manifest import Manifest, ext_suffix, source_path, source_sha256

MODULES = ["fakepkg.logic", "fakepkg.rules"]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A package's `__path__`, with its sources; the environment and `sys.path` restored after."""
    for name in (*MODULES, "fakepkg.io"):
        path = tmp_path / "src" / source_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"WHERE = {name!r}\n")
    monkeypatch.delenv("FEEDBACK_PURE_PYTHON", raising=False)
    monkeypatch.delenv("FEEDBACK_COMPILED_DIR", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return [str(tmp_path / "src" / "fakepkg")]


def build(package: list[str], out: Path | None = None, **changes: object) -> Path:
    """Writes what a build would (manifest and placeholder libraries) for the current sources."""
    root = Path(package[0]).parent
    out = out or root / ".compiled"
    fields = {
        "modules": MODULES,
        "group_library": "fakepkg_group__mypyc",
        "sources": {source_path(m): source_sha256(root / source_path(m)) for m in MODULES},
        "ext_suffix": ext_suffix(),
        "python_version": "3.11.7",
        "mypy_version": "1.0",
        **changes,
    }
    manifest = Manifest(**fields)  # type: ignore[arg-type]
    (out / "fakepkg").mkdir(parents=True)
    for name in [manifest.group_library, *MODULES]:
        (out / (name.replace(".", "/") + manifest.ext_suffix)).write_bytes(b"")
    manifest.write(out)
    return out


def no_warning(package: list[str]) -> tuple[str, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return use_compiled("fakepkg", package)


def one_warning(package: list[str]) -> str:
    with pytest.warns(StaleCompiledWarning) as caught:
        assert use_compiled("fakepkg", package) == ()
    assert len(caught) == 1
    return str(caught[0].message)


def test_without_a_build_pure_python_silently(package: list[str]) -> None:
    before = list(package)
    assert no_warning(package) == ()
    assert package == before


def test_a_matching_build_goes_first_on_the_package_path(package: list[str]) -> None:
    out = build(package)
    assert no_warning(package) == tuple(MODULES)
    assert package[0] == str(out / "fakepkg")
    assert str(out) in sys.path  # the group library is a top-level module


def test_one_changed_source_sends_all_back_to_pure_python(package: list[str]) -> None:
    build(package)
    before = list(package)
    rules = Path(package[0]) / "rules.py"
    rules.write_text(rules.read_text() + "# edited\n")
    message = one_warning(package)
    assert "fakepkg/rules.py" in message
    assert "fakepkg/logic.py" not in message
    assert "make setup" in message
    assert package == before


def test_a_deleted_source_is_a_change(package: list[str]) -> None:
    build(package)
    (Path(package[0]) / "logic.py").unlink()
    assert "fakepkg/logic.py" in one_warning(package)


def test_an_unlisted_module_may_change(package: list[str]) -> None:
    build(package)
    (Path(package[0]) / "io.py").write_text("WHERE = 'edited'\n")
    assert no_warning(package) == tuple(MODULES)


def test_another_python_abi_is_not_used(package: list[str]) -> None:
    build(package, ext_suffix=".cpython-399-x86_64-linux-gnu.so")
    assert ".cpython-399-x86_64-linux-gnu.so" in one_warning(package)


def test_a_missing_library_is_not_used(package: list[str]) -> None:
    out = build(package)
    (out / ("fakepkg_group__mypyc" + ext_suffix())).unlink()
    assert "fakepkg_group__mypyc" in one_warning(package)


def test_a_corrupt_manifest_warns_instead_of_failing(package: list[str]) -> None:
    out = build(package)
    (out / "manifest.json").write_text(json.dumps({"modules": MODULES}))
    assert "unreadable" in one_warning(package)


def test_a_build_of_another_package_is_not_used(package: list[str]) -> None:
    build(package, modules=["otherpkg.logic"])
    assert "otherpkg.logic" in one_warning(package)


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_pure_python_on_request(
    package: list[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    build(package)
    monkeypatch.setenv("FEEDBACK_PURE_PYTHON", value)
    before = list(package)
    assert no_warning(package) == ()
    assert package == before


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_pure_python_only_on_a_true_value(
    package: list[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    build(package)
    monkeypatch.setenv("FEEDBACK_PURE_PYTHON", value)
    assert no_warning(package) == tuple(MODULES)


def test_the_build_directory_can_be_elsewhere(
    package: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = build(package, out=tmp_path / "elsewhere")
    monkeypatch.setenv("FEEDBACK_COMPILED_DIR", str(out))
    assert no_warning(package) == tuple(MODULES)
    assert package[0] == str(out / "fakepkg")
