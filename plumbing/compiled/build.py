"""Compiles the worker's pure-logic modules with mypyc into a directory out of the source tree.

The modules form one mypyc group (one shared library, so their calls to each other are
native) plus one small shim per module under `<out>/stream_processors/`. Nothing is written next
to the sources: `plumbing.compiled.loader` decides at import whether the build still matches.
"""

import shutil
import sys
import tempfile
from contextlib import chdir
from pathlib import Path

from plumbing.compiled.manifest import Manifest, ext_suffix, source_path, source_sha256

__all__ = ["GROUP", "MODULES", "build", "is_current", "planned_manifest"]

# The join, label, metric and intake logic: plain code over dicts, about a quarter of the
# worker's CPU per event saved compiled (docs/compiled.md). Modules that do I/O or use Faust
# stay interpreted.
MODULES = (
    "stream_processors.sessions",
    "stream_processors.partition",
    "stream_processors.metrics",
    "stream_processors.labels",
    "stream_processors.percentiles",
    "stream_processors.watermark",
    "stream_processors.intake",
    # Generated from the input schemas (schemas.reader_module): decoding is a fifth of the work.
    "stream_processors.avro_readers",
)
GROUP = "stream_processors_compiled"


def planned_manifest(root: Path) -> Manifest:
    """The manifest a build of the sources under `root` would write now."""
    from mypy.version import __version__ as mypy_version

    return Manifest(
        modules=list(MODULES),
        group_library=GROUP + "__mypyc",
        sources={source_path(m): source_sha256(root / source_path(m)) for m in MODULES},
        ext_suffix=ext_suffix(),
        python_version=sys.version.split()[0],
        mypy_version=mypy_version,
    )


def is_current(root: Path, out: Path) -> bool:
    """Whether `out` already holds a complete build of the current sources by this toolchain."""
    try:
        built = Manifest.read(out)
    except (OSError, ValueError, TypeError):
        return False
    return (
        built is not None and built == planned_manifest(root) and not built.missing_libraries(out)
    )


def build(root: Path, out: Path) -> Manifest:
    """Compile MODULES (sources under `root`) into `out`, replacing what was there.

    The C sources and objects go to a temporary directory; `out` is written whole in a sibling
    temporary directory first and then swapped in, so a failed build leaves the old one intact.
    """
    from mypyc.build import mypycify
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    manifest = planned_manifest(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".compiled-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the build from other users (the image's)
    try:
        # In `root`: mypyc names the modules after their paths relative to the working directory.
        with tempfile.TemporaryDirectory(prefix="mypyc-") as work, chdir(root):
            extensions = mypycify(
                [source_path(m) for m in MODULES],
                group_name=GROUP,
                target_dir=str(Path(work) / "c"),
                opt_level="3",
            )
            command = build_ext(Distribution({"name": GROUP, "ext_modules": extensions}))
            command.build_lib = str(staging)
            command.build_temp = str(Path(work) / "objects")
            command.ensure_finalized()
            command.run()
        if planned_manifest(root) != manifest:
            raise RuntimeError("a source changed during the build: build again")
        manifest.write(staging)
        missing = manifest.missing_libraries(staging)
        if missing:
            raise RuntimeError(f"mypyc did not produce {missing} in {staging}")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
