"""Drift by population stability index: thresholds, PSI per column, the drift report and summary."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from churn.config import Config
from churn.errors import ConfigError
from churn.monitoring.reference import (
    EPSILON,
    Values,
    _as_series,
    _bin_counts,
    _check_epsilon,
    _check_reference,
    _is_number,
    _labels,
    _numbers_for_reference,
)

log = logging.getLogger(__name__)

STATUSES = ("ok", "warn", "flag")
REPORT_COLUMNS = ["column", "psi", "status", "missing_reference", "missing_now"]


@dataclass(frozen=True)
class DriftConfig(Config):
    """PSI thresholds: ``warn`` <= psi < ``flag`` warns, psi >= ``flag`` flags a column."""

    section: ClassVar[str] = "drift thresholds"

    warn: float = 0.1
    flag: float = 0.25

    def __post_init__(self) -> None:
        for name in ("warn", "flag"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value):
                raise ConfigError(
                    f"drift thresholds.{name}: expected a finite number; got {value!r}"
                )
        if not 0 < self.warn <= self.flag:
            raise ConfigError(
                f"drift thresholds: expected 0 < warn <= flag; got warn={self.warn}, "
                f"flag={self.flag}"
            )

    def classify(self, value: float) -> str:
        """The status of a PSI value: ``"ok"``, ``"warn"`` or ``"flag"``."""
        if value >= self.flag:
            return "flag"
        if value >= self.warn:
            return "warn"
        return "ok"


def psi(reference: Mapping[str, Any], values: Values, *, epsilon: float = EPSILON) -> float:
    """Population stability index of ``values`` against a :func:`reference_distribution`.

    Args:
        reference: A reference, as built or after a JSON round trip.
        values: The column now, as a Series or any one-dimensional array-like.
        epsilon: Floor of both shares in every bin, so empty bins give a finite index.

    Returns:
        The index, >= 0; about 0 for the same distribution.

    Raises:
        ValueError: when the reference is malformed, ``values`` is empty, a numeric reference
            meets values of another dtype (all-missing values of any dtype are fine), or
            ``epsilon`` is outside (0, 1).
    """
    where = "psi"
    _check_epsilon(epsilon, where=where)
    expected, actual = _shares(reference, values, where=where)
    return _psi(expected, actual, epsilon=epsilon)


def drift_report(
    references: Mapping[str, Mapping[str, Any]],
    frame: pd.DataFrame,
    *,
    thresholds: DriftConfig,
) -> pd.DataFrame:
    """PSI and status of every reference column in ``frame``, largest drift first.

    Logs one warning per column with status ``warn`` or ``flag``. Columns of ``frame`` without a
    reference are ignored.

    Args:
        references: Reference per column, as from :func:`reference_distributions`.
        frame: The data now.
        thresholds: Where ``warn`` and ``flag`` start.

    Returns:
        Columns ``column, psi, status, missing_reference, missing_now``, sorted by ``psi``
        descending (ties by column name).

    Raises:
        ValueError: when there are no references, ``frame`` lacks a reference column or has no
            rows, or a reference is malformed (the message names the column).
        TypeError: when ``thresholds`` is not a :class:`DriftConfig`.
    """
    where = "drift_report"
    if not isinstance(thresholds, DriftConfig):
        raise TypeError(
            f"{where}: expected thresholds as DriftConfig (see DriftConfig.from_mapping); "
            f"got {type(thresholds).__name__}"
        )
    if not references:
        raise ValueError(f"{where}: expected at least one reference column; got none")
    absent = sorted(set(references) - set(frame.columns))
    if absent:
        raise ValueError(
            f"{where}: frame lacks reference columns {absent}; expected all of the "
            f"{len(references)} reference columns"
        )
    if len(frame) == 0:
        raise ValueError(f"{where}: expected at least one row; got an empty frame")
    rows = []
    for column, reference in references.items():
        expected, actual = _shares(reference, frame[column], where=f"{where}: column {column!r}")
        value = _psi(expected, actual, epsilon=EPSILON)
        rows.append(
            {
                "column": column,
                "psi": value,
                "status": thresholds.classify(value),
                "missing_reference": float(expected[-1]),
                "missing_now": float(actual[-1]),
            }
        )
    report = (
        pd.DataFrame(rows, columns=REPORT_COLUMNS)
        .sort_values(["psi", "column"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )
    for column, value, status in zip(
        report["column"], report["psi"], report["status"], strict=True
    ):
        if status != "ok":
            log.warning(
                "drift %s: column %s has psi %.3f (warn at %.3g, flag at %.3g)",
                status,
                column,
                value,
                thresholds.warn,
                thresholds.flag,
            )
    return report


def summarise_drift(report: pd.DataFrame) -> dict[str, Any]:
    """A JSON-serialisable summary of a :func:`drift_report`.

    Returns:
        ``{"n_columns", "counts": {"ok", "warn", "flag"}, "max_psi", "max_psi_column",
        "warned", "flagged"}``; the column lists are ordered by psi descending, ``max_psi`` and
        ``max_psi_column`` are None for an empty report.

    Raises:
        ValueError: when ``report`` lacks ``column``, ``psi`` or ``status``, has a status other
            than ok / warn / flag, or a non-finite psi.
    """
    where = "summarise_drift"
    absent = sorted({"column", "psi", "status"} - set(report.columns))
    if absent:
        raise ValueError(
            f"{where}: expected a drift_report with columns column, psi, status; lacks {absent}"
        )
    unknown = sorted({str(s) for s in report["status"]} - set(STATUSES))
    if unknown:
        raise ValueError(f"{where}: expected statuses among {list(STATUSES)}; got {unknown}")
    values = report["psi"].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError(f"{where}: expected finite psi values; got {values.tolist()}")
    ordered = report.iloc[np.argsort(-values, kind="stable")]
    statuses = [str(s) for s in ordered["status"]]
    columns = [str(c) for c in ordered["column"]]
    return {
        "n_columns": len(report),
        "counts": {status: statuses.count(status) for status in STATUSES},
        "max_psi": float(values.max()) if len(values) else None,
        "max_psi_column": columns[0] if columns else None,
        "warned": [c for c, s in zip(columns, statuses, strict=True) if s == "warn"],
        "flagged": [c for c, s in zip(columns, statuses, strict=True) if s == "flag"],
    }


def _shares(
    reference: Mapping[str, Any], values: Values, *, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current shares per bin; the last bin is the missing one.

    A bin empty on both sides adds ``(eps - eps) * ln(1) = 0``, so the missing bin and the
    "other" bin (values outside every reference bin) are always included.
    """
    ref = _check_reference(reference, where=where)
    series = _as_series(values, where=where)
    n = len(series)
    if ref.kind == "numeric":
        numbers = _numbers_for_reference(series, where=where)
        present = numbers[~np.isnan(numbers)]
        if ref.bins or len(ref.proportions):
            inside = _bin_counts(present, np.asarray(ref.bins, dtype=float)) / n
            expected = ref.proportions
        else:
            inside = np.array([len(present) / n])
            expected = np.array([0.0])
        actual = np.concatenate([inside, [(n - len(present)) / n]])
        return np.concatenate([expected, [ref.missing]]), actual
    labels = _labels(series)
    counts = labels.value_counts().reindex(ref.bins, fill_value=0).to_numpy(dtype=float)
    other = len(labels) - counts.sum()
    actual = np.concatenate([counts / n, [other / n, (n - len(labels)) / n]])
    return np.concatenate([ref.proportions, [0.0, ref.missing]]), actual


def _psi(expected: np.ndarray, actual: np.ndarray, *, epsilon: float) -> float:
    e = np.maximum(expected, epsilon)
    a = np.maximum(actual, epsilon)
    return float(np.sum((a - e) * np.log(a / e)))
