"""API keys: hashed at rest, several per agent, revocable, malformed files refused."""

from pathlib import Path

import pytest

from gateway.exceptions import KeyStoreError
from gateway.keys import KeyFile, split_key


def test_keys_are_stored_hashed_and_verified(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "keys.json", reload_every_s=0)
    first, key = keys.add("bot", rate_per_s=5, label="ci")
    _, second = keys.add("bot")
    assert keys.verify(key) == first and keys.verify(second) is not None
    text = (tmp_path / "keys.json").read_text()
    assert split_key(key)[1] not in text and first.secret_sha256 in text  # type: ignore[index]
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    assert keys.verify(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert keys.verify("fbk_nothing_here") is None and keys.verify("garbage") is None
    assert keys.revoke(first.key_id) and not keys.revoke(first.key_id)
    assert keys.verify(key) is None and keys.verify(second) is not None
    assert [k.agent_id for k in keys.list()] == ["bot"]


def test_a_malformed_key_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(KeyStoreError, match="malformed"):
        KeyFile(path).verify("fbk_a_b")
    with pytest.raises(KeyStoreError, match="agent id"):
        KeyFile(tmp_path / "other.json").add("")


def test_a_key_added_by_another_process_is_known_at_once(tmp_path: Path) -> None:
    serving = KeyFile(tmp_path / "keys.json", reload_every_s=3600)
    assert serving.verify("fbk_unknown_secret") is None  # the file is read (and cached) now
    _, key = KeyFile(tmp_path / "keys.json").add("bot")
    assert serving.verify(key) is not None
