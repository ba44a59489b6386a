"""Namespaces and table prefixes as path parts: relative, plain names, never outside the lake root.

A namespace (`replay-1`) becomes part of a table's path (`<lake>/replay-1/raw_events`) and a
curation prefix (`replay-1/`) likewise. Unchecked, `--namespace ../other` or a prefix `/etc/`
would read and write Delta tables anywhere the process may. Every path part is therefore a plain
name: letters, digits, `.`, `_`, `-`, starting with a letter or digit (so never `.` or `..`),
with `/` only between parts; no absolute path, no URI scheme, no backslash.
"""

import re

from schemas.exceptions import LakePathError

__all__ = ["check_namespace", "check_table_name", "check_table_prefix"]

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"


def check_namespace(namespace: str) -> str:
    """A replay namespace: empty (the live lake) or one plain name (also a topic suffix)."""
    if namespace and not _PART.fullmatch(namespace):
        raise LakePathError(
            f"namespace {namespace!r} is not a plain name ({_RULE}): it names a directory "
            "under the lake root and a topic suffix, and may not lead outside them"
        )
    return namespace


def check_table_prefix(prefix: str) -> str:
    """A table prefix: empty, or plain names joined by '/' (`replay-1/`, `a/b/`, `tmp_`)."""
    if not prefix:
        return prefix
    *directories, last = prefix.split("/")
    if not all(_PART.fullmatch(part) for part in directories) or (
        last and not _PART.fullmatch(last)
    ):
        raise LakePathError(
            f"table prefix {prefix!r} must be relative, made of plain names ({_RULE}) joined "
            "by '/', e.g. 'replay-1/': no '..', no absolute path, no URI"
        )
    return prefix


def check_table_name(name: str) -> str:
    """A table name: one plain name."""
    if not _PART.fullmatch(name):
        raise LakePathError(f"table name {name!r} is not a plain name ({_RULE})")
    return name
