"""Adding the label model's P(good) to a frame of featured turns."""

import polars as pl

from curation.labels.evidence import extract_evidence
from curation.labels.model import LabelModel, LabelModelSettings, fit_label_model

__all__ = ["LABEL_COLUMN", "add_label_probability"]

LABEL_COLUMN = "label_probability"


def add_label_probability(
    turns: pl.DataFrame, settings: LabelModelSettings | None = None
) -> tuple[pl.DataFrame, LabelModel]:
    """`turns` with a `label_probability` column (P(good), 0-1) and the fitted model.

    `turns` must carry the curation features (`curation.features.add_turn_features`).
    """
    model = fit_label_model(extract_evidence(turns), settings)
    return turns.with_columns(pl.Series(LABEL_COLUMN, model.posterior, dtype=pl.Float64)), model
