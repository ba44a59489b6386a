"""`python -m plumbing.compiled build|status`: build the compiled modules, or say which are used."""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from plumbing.compiled.loader import COMPILED_DIR_VARIABLE, compiled_dir

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plumbing.compiled", description=__doc__)
    parser.add_argument("command", choices=["build", "status"])
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output directory (default: ${COMPILED_DIR_VARIABLE} or <repo>/.compiled)",
    )
    parser.add_argument("--force", action="store_true", help="build even if up to date")
    args = parser.parse_args(argv)
    out = (args.out or compiled_dir(ROOT)).resolve()
    if args.command == "status":
        return _status(out)
    from plumbing.compiled.build import build, is_current

    if not args.force and is_current(ROOT, out):
        os.utime(out / "manifest.json")  # up to date: tells make so too
        print(f"compiled modules in {out} are up to date")
        return 0
    started = time.monotonic()
    manifest = build(ROOT, out)
    elapsed = time.monotonic() - started
    print(f"compiled {len(manifest.modules)} modules into {out} in {elapsed:.0f} s")
    return 0


def _status(out: Path) -> int:
    """Imports the modules in a fresh interpreter, as the worker would, and says where from."""
    script = (
        "import importlib, sysconfig\n"
        "from plumbing.compiled.build import MODULES\n"
        "suffix = sysconfig.get_config_var('EXT_SUFFIX')\n"
        "for name in MODULES:\n"
        "    path = importlib.import_module(name).__file__ or ''\n"
        "    kind = 'compiled' if path.endswith(suffix) else 'pure'\n"
        "    print(f'{kind:9} {name:35} {path}')\n"
    )
    env = {**os.environ, COMPILED_DIR_VARIABLE: str(out)}
    return subprocess.run([sys.executable, "-c", script], env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
