"""Chooses, at package import, between a package's compiled modules and its pure Python.

Compiled modules live out of tree (default `<dir holding the package>/.compiled`), so an edited
`.py` is never shadowed by a stale `.so` next to it: the build's manifest records each source's
sha256, and one changed source sends the whole group back to pure Python (its modules call each
other natively, so mixing is not an option) with one warning that names it.
"""

import os
import sys
import warnings
from pathlib import Path

from plumbing.compiled.manifest import Manifest, ext_suffix

__all__ = [
    "COMPILED_DIR_VARIABLE",
    "PURE_PYTHON_VARIABLE",
    "REBUILD_COMMAND",
    "StaleCompiledWarning",
    "compiled_dir",
    "use_compiled",
]

PURE_PYTHON_VARIABLE = "FEEDBACK_PURE_PYTHON"
COMPILED_DIR_VARIABLE = "FEEDBACK_COMPILED_DIR"
REBUILD_COMMAND = "make setup"
_TRUE = {"1", "true", "yes", "on"}


class StaleCompiledWarning(UserWarning):
    """Compiled modules exist but do not match the sources: pure Python is used instead."""


def compiled_dir(root: Path) -> Path:
    """Where the build writes and the loader looks: $FEEDBACK_COMPILED_DIR or `root/.compiled`."""
    configured = os.environ.get(COMPILED_DIR_VARIABLE)
    return Path(configured) if configured else root / ".compiled"


def use_compiled(package: str, path: list[str]) -> tuple[str, ...]:
    """Put `package`'s compiled modules first on its `__path__` when the build matches.

    Call at the top of the package's `__init__`, before any submodule import. Returns the
    compiled modules made active (empty: pure Python).
    """
    if os.environ.get(PURE_PYTHON_VARIABLE, "").strip().lower() in _TRUE:
        return ()
    root = Path(path[0]).resolve().parent
    directory = compiled_dir(root).absolute()
    try:
        manifest = Manifest.read(directory)
    except (OSError, ValueError, TypeError) as error:
        _warn(f"its manifest in {directory} is unreadable ({error})")
        return ()
    if manifest is None:
        return ()
    problem = _mismatch(manifest, package, root, directory)
    if problem:
        _warn(problem)
        return ()
    package_dir = str(directory / package)
    if package_dir not in path:
        path.insert(0, package_dir)
    # The shims import the group's library as a top-level module. Appended: nothing else is
    # there, and `package` itself is already imported so the directory cannot shadow it.
    if str(directory) not in sys.path:
        sys.path.append(str(directory))
    return tuple(manifest.modules)


def _mismatch(manifest: Manifest, package: str, root: Path, directory: Path) -> str | None:
    """Why the build in `directory` cannot be used for `package` at `root`; None if it can."""
    if manifest.ext_suffix != ext_suffix():
        return f"they were built for {manifest.ext_suffix}, this Python needs {ext_suffix()}"
    if any(not module.startswith(package + ".") for module in manifest.modules):
        return f"{directory} holds modules outside {package}: {manifest.modules}"
    changed = manifest.changed_sources(root)
    if changed:
        return f"changed since the build: {', '.join(changed)}"
    missing = manifest.missing_libraries(directory)
    if missing:
        return f"missing from {directory}: {', '.join(missing)}"
    return None


def _warn(reason: str) -> None:
    warnings.warn(
        f"compiled modules not used, running pure Python: {reason}. "
        f"Rebuild them with `{REBUILD_COMMAND}` (or set {PURE_PYTHON_VARIABLE}=1 to silence this).",
        StaleCompiledWarning,
        stacklevel=3,
    )
