"""API keys: stored as SHA-256 hashes in a JSON file, one or more per agent.

A key is `fbk_<key_id>_<secret>`: the key id finds the entry, the secret's SHA-256 is compared in
constant time. The secret is 32 random bytes, so a fast hash is enough (a slow password hash
protects guessable secrets; these cannot be guessed); the file never holds a usable key. The
gateway re-reads the file when it changes, so `feedbackctl gateway keys add` and `revoke` take
effect without a restart (an unknown key id makes it look at once; a revocation is seen within
`reload_every_s`). Writers take an exclusive lock and replace the file atomically.
"""

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway.exceptions import KeyStoreError

__all__ = ["ApiKey", "KeyFile", "hash_secret", "split_key"]

_PREFIX = "fbk"


@dataclass(frozen=True)
class ApiKey:
    """One key as stored: who it belongs to and its own rate limit, never the secret."""

    key_id: str
    agent_id: str
    secret_sha256: str
    created_at_ms: int
    rate_per_s: float | None = None
    burst: int | None = None
    label: str = ""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_key(presented: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class KeyFile:
    """The key file: add, revoke and list keys; verify a presented key (cached by mtime)."""

    def __init__(self, path: Path, reload_every_s: float = 1.0) -> None:
        self.path = path
        self._reload_every_s = reload_every_s
        self._keys: dict[str, ApiKey] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def add(
        self,
        agent_id: str,
        *,
        rate_per_s: float | None = None,
        burst: int | None = None,
        label: str = "",
    ) -> tuple[ApiKey, str]:
        """Create a key for `agent_id`; returns the entry and the key (shown once, never kept)."""
        if not agent_id:
            raise KeyStoreError("an API key needs a non-empty agent id")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        entry = ApiKey(
            key_id, agent_id, hash_secret(secret), time.time_ns() // 1_000_000,
            rate_per_s, burst, label,
        )  # fmt: skip
        with self._locked_file() as keys:
            keys[key_id] = entry
        return entry, f"{_PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        """Remove a key; False when there was none with that id."""
        with self._locked_file() as keys:
            return keys.pop(key_id, None) is not None

    def list(self) -> list[ApiKey]:
        return sorted(self._read().values(), key=lambda key: (key.agent_id, key.created_at_ms))

    def verify(self, presented: str) -> ApiKey | None:
        """The key's entry when `presented` is a valid, unrevoked key; else None."""
        parts = split_key(presented)
        if parts is None:
            return None
        entry = self._current().get(parts[0])
        if entry is None:  # perhaps added a moment ago: look at the file now
            entry = self._current(force=True).get(parts[0])
        if entry is None or not hmac.compare_digest(entry.secret_sha256, hash_secret(parts[1])):
            return None
        return entry

    def _current(self, force: bool = False) -> dict[str, ApiKey]:
        now = time.monotonic()
        if not force and now - self._checked_at < self._reload_every_s:
            return self._keys
        with self._lock:
            self._checked_at = now
            try:
                stat = self.path.stat()
                stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
            except FileNotFoundError:
                stamp = None
            if stamp != self._stamp:
                self._keys = self._read() if stamp is not None else {}
                self._stamp = stamp
        return self._keys

    def _read(self) -> dict[str, ApiKey]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise KeyStoreError(f"cannot read the API key file {self.path}: {exc}") from exc
        try:
            items: list[dict[str, Any]] = json.loads(text)["keys"] if text.strip() else []
            return {item["key_id"]: ApiKey(**item) for item in items}
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"the API key file {self.path} is malformed: {exc}") from exc

    @contextmanager
    def _locked_file(self) -> Iterator[dict[str, ApiKey]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            keys = self._read()
            yield keys
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"keys": [asdict(key) for key in keys.values()]}, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
