"""The example retraining job's recipes, importable without the training libraries."""

from __future__ import annotations

import enum


class Recipe(enum.StrEnum):
    """How good the trained model is meant to be."""

    BASELINE = "baseline"
    BETTER = "better"
    WORSE = "worse"
