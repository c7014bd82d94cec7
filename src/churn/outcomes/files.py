"""The results of a campaign measurement: ``<outcomes.dir>/<as_of>/``.

``outcomes.json`` (canonical JSON: sorted keys, fixed separators), and for people
``by_offer.csv``, ``by_offer_tier.csv``, ``performance_by_tier.csv`` and, when customers of the
export answered exit surveys, ``exit_reasons.csv`` (:func:`churn.spreadsheet.write_csv`). The
folder is written into a temporary sibling renamed into place (all files appear together or not
at all), owner-only (customer-level outcomes may be sensitive), and holds no timestamp, so
measuring the same export on the same data again gives byte-identical files. The export folder
measured is never written.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from churn.files import atomic_directory, canonical_json
from churn.outcomes.campaign import CampaignOutcome
from churn.spreadsheet import write_csv

log = logging.getLogger(__name__)

SUMMARY = "outcomes.json"
BY_OFFER = "by_offer.csv"
BY_OFFER_TIER = "by_offer_tier.csv"
PERFORMANCE_BY_TIER = "performance_by_tier.csv"
EXIT_REASONS = "exit_reasons.csv"
JSON_DECIMALS = 10
DECIMALS = 6  # rates and money in the CSV files: enough for reading, stable across platforms


def outcome_folder(root: str | os.PathLike[str], as_of: pd.Timestamp) -> Path:
    """``<root>/<YYYY-MM-DD>``."""
    return Path(root) / str(pd.Timestamp(as_of).date())


def write_outcomes(folder: str | os.PathLike[str], outcome: CampaignOutcome) -> Path:
    """Write one campaign's results atomically, replacing an earlier measurement of it."""
    final = Path(folder)
    with atomic_directory(final) as tmp:
        summary = canonical_json(_json_ready(outcome.summary))
        (tmp / SUMMARY).write_text(summary, encoding="utf-8")
        write_csv(_rounded(outcome.by_offer), tmp / BY_OFFER)
        write_csv(_rounded(outcome.by_offer_tier), tmp / BY_OFFER_TIER)
        write_csv(_rounded(outcome.performance.by_tier), tmp / PERFORMANCE_BY_TIER)
        if outcome.exit_reasons is not None:
            write_csv(outcome.exit_reasons, tmp / EXIT_REASONS)
    log.info("outcomes of %s written to %s", outcome.as_of.date(), final)
    return final


def _json_ready(value: Any) -> Any:
    """Floats rounded to :data:`JSON_DECIMALS` (no last-digit noise), NaN as null, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float):
        return round(value, JSON_DECIMALS) if math.isfinite(value) else None
    return value


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name].dtype):
            out[name] = out[name].round(DECIMALS)
    return out
