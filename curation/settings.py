"""Settings of `feedbackctl curate`: where the lake is, where datasets go, default options."""

from pydantic_settings import SettingsConfigDict

from curation.options import CurationOptions
from plumbing.settings import DEFAULT_LAKE_URI, ServiceSettings

__all__ = ["CURATION_ENV_PREFIX", "CurationSettings"]

CURATION_ENV_PREFIX = "FEEDBACK_CURATION_"


class CurationSettings(ServiceSettings, CurationOptions):
    """FEEDBACK_CURATION_* variables; every CurationOptions field can be set the same way."""

    model_config = SettingsConfigDict(env_prefix=CURATION_ENV_PREFIX)

    lake_uri: str = DEFAULT_LAKE_URI
    lake_prefix: str = ""
    output_root: str = "out/datasets"

    def options(self, **overrides: object) -> CurationOptions:
        """The curation options these settings give, with CLI overrides (None = keep)."""
        values = self.model_dump(include=set(CurationOptions.model_fields))
        values.update({key: value for key, value in overrides.items() if value is not None})
        return CurationOptions(**values)
