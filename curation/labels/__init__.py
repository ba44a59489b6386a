"""The label model: P(good) of every turn from all the evidence in the lake, and selection of
the turns that reach a target precision (docs/labels.md)."""

from curation.labels.estimates import (
    SelectionEstimate,
    estimate_selection,
    precision_threshold,
)
from curation.labels.evidence import Evidence, extract_evidence
from curation.labels.model import LabelModel, LabelModelSettings, fit_label_model
from curation.labels.turns import LABEL_COLUMN, add_label_probability

__all__ = [
    "LABEL_COLUMN",
    "Evidence",
    "LabelModel",
    "LabelModelSettings",
    "SelectionEstimate",
    "add_label_probability",
    "estimate_selection",
    "extract_evidence",
    "fit_label_model",
    "precision_threshold",
]
