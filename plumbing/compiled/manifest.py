"""The manifest of an out-of-tree mypyc build: what was compiled, from which sources, for which
Python. The loader trusts a build only while every recorded source is byte-identical."""

import hashlib
import json
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["MANIFEST_NAME", "Manifest", "ext_suffix", "source_path", "source_sha256"]

MANIFEST_NAME = "manifest.json"


def ext_suffix() -> str:
    """This interpreter's extension-module suffix (ABI tag and platform included)."""
    return str(sysconfig.get_config_var("EXT_SUFFIX"))


def source_path(module: str) -> str:
    """`a.b` -> `a/b.py`, relative to the directory holding the top-level package."""
    return module.replace(".", "/") + ".py"


def source_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """One build. `sources` maps each module's `source_path` to its sha256 at build time."""

    modules: list[str]
    group_library: str  # the top-level module holding the group's code; the shims import it
    sources: dict[str, str]
    ext_suffix: str
    python_version: str
    mypy_version: str

    def write(self, directory: Path) -> None:
        text = json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"
        (directory / MANIFEST_NAME).write_text(text)

    @classmethod
    def read(cls, directory: Path) -> "Manifest | None":
        """The manifest in `directory`; None when there is none (never built)."""
        try:
            data = json.loads((directory / MANIFEST_NAME).read_text())
        except FileNotFoundError:
            return None
        return cls(**data)

    def changed_sources(self, root: Path) -> list[str]:
        """The recorded sources under `root` that are missing or differ from the build's."""
        changed = []
        for relative, digest in sorted(self.sources.items()):
            path = root / relative
            if not path.is_file() or source_sha256(path) != digest:
                changed.append(relative)
        return changed

    def missing_libraries(self, directory: Path) -> list[str]:
        """Built files (the group library, each module's shim) absent from `directory`."""
        expected = [self.group_library, *self.modules]
        return [
            name
            for name in expected
            if not (directory / (name.replace(".", "/") + self.ext_suffix)).is_file()
        ]
