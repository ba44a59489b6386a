import pytest
from pydantic import ValidationError

from curation import CurationSettings


def test_environment_sets_options_and_cli_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_CURATION_MIN_REWARD", "0.7")
    monkeypatch.setenv("FEEDBACK_CURATION_LAKE_URI", "/data/lake")
    settings = CurationSettings()
    assert settings.lake_uri == "/data/lake"
    assert settings.options().min_reward == 0.7
    assert settings.options(min_reward=0.2, dedup=None).min_reward == 0.2


def test_unknown_or_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValidationError):
        CurationSettings(no_such_option=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        CurationSettings().options(dedup="fuzzy")
