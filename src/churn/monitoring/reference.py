"""Reference distributions of training columns (quantile bins or categories) and their checks."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

Values: TypeAlias = pd.Series | np.ndarray | Sequence[Any]

KINDS = ("numeric", "categorical")
# Floor of both shares in a bin, so a bin empty on one side gives a large but finite term.
EPSILON = 1e-4
# Proportions and the missing share of a reference must add up to one within this tolerance.
SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class _Reference:
    """A validated reference: bin labels (edges or categories), shares and the missing share."""

    kind: str
    bins: list[Any]
    proportions: np.ndarray
    missing: float


def reference_distribution(values: Values, *, n_bins: int = 10) -> dict[str, Any]:
    """The distribution of one column, to compare later data with by :func:`psi`.

    Numeric values are binned at their quantiles (deduplicated); when there are at most
    ``n_bins`` distinct values, each distinct value gets a bin of its own. String, object,
    category and bool values are categorical. ``mean`` and ``std`` (population) are of the
    finite values, None when there are none.

    Args:
        values: One column, as a Series or any one-dimensional array-like.
        n_bins: Most bins of a numeric column (at least 2).

    Returns:
        ``{"kind": "numeric", "edges", "proportions", "missing", "n", "mean", "std"}`` or
        ``{"kind": "categorical", "categories", "proportions", "missing", "n"}``, plain JSON.

    Raises:
        ValueError: when ``values`` is empty or not one-dimensional, or ``n_bins`` is not a
            whole number >= 2.
        TypeError: when the values are neither numeric nor categorical (dates, say).
    """
    where = "reference_distribution"
    _check_n_bins(n_bins, where=where)
    return _reference(_as_series(values, where=where), n_bins=n_bins, where=where)


def reference_distributions(frame: pd.DataFrame, *, n_bins: int = 10) -> dict[str, dict[str, Any]]:
    """:func:`reference_distribution` of every column of ``frame``, keyed by column name.

    Raises:
        ValueError: when the frame has no columns, non-string or duplicate column names, or no
            rows.
    """
    where = "reference_distributions"
    _check_n_bins(n_bins, where=where)
    if frame.shape[1] == 0:
        raise ValueError(f"{where}: expected at least one column; got none")
    odd = [name for name in frame.columns if not isinstance(name, str)]
    if odd:
        raise ValueError(f"{where}: expected string column names (JSON keys); got {odd}")
    duplicated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise ValueError(f"{where}: expected unique column names; got duplicates {duplicated}")
    names = [str(name) for name in frame.columns]
    return {
        name: _reference(frame[name], n_bins=n_bins, where=f"{where}: column {name!r}")
        for name in names
    }


def _reference(series: pd.Series, *, n_bins: int, where: str) -> dict[str, Any]:
    if series.empty:
        raise ValueError(f"{where}: expected at least one value; got none")
    if _is_categorical(series, where=where):
        return _categorical_reference(series)
    return _numeric_reference(series, n_bins=n_bins)


def _numeric_reference(series: pd.Series, *, n_bins: int) -> dict[str, Any]:
    numbers = _numbers(series)
    present = numbers[~np.isnan(numbers)]
    finite = present[np.isfinite(present)]
    edges = _edges(finite, n_bins=n_bins)
    proportions = _bin_counts(present, edges) / len(numbers) if len(present) else np.array([])
    # Sums of huge values may overflow; the summary is then unknown rather than infinite.
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(finite.mean()) if len(finite) else None
        std = float(finite.std()) if len(finite) else None
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "proportions": proportions.tolist(),
        "missing": (len(numbers) - len(present)) / len(numbers),
        "n": len(numbers),
        "mean": mean if mean is not None and math.isfinite(mean) else None,
        "std": std if std is not None and math.isfinite(std) else None,
    }


def _categorical_reference(series: pd.Series) -> dict[str, Any]:
    labels = _labels(series)
    counts = labels.value_counts()
    categories = sorted(str(c) for c in counts.index)
    return {
        "kind": "categorical",
        "categories": categories,
        "proportions": [int(counts[c]) / len(series) for c in categories],
        "missing": (len(series) - len(labels)) / len(series),
        "n": len(series),
    }


def _edges(finite: np.ndarray, *, n_bins: int) -> np.ndarray:
    """Inner bin edges: each distinct value when few, else the quantiles (data values).

    Quantiles are taken as data values (``inverted_cdf``) and edges at or above the maximum
    dropped, so every reference bin holds at least one value.
    """
    if len(finite) == 0:
        return np.array([], dtype=float)
    distinct = np.unique(finite)
    if len(distinct) <= n_bins:
        return distinct[:-1].astype(float)
    levels = np.arange(1, n_bins) / n_bins
    edges = np.unique(np.quantile(finite, levels, method="inverted_cdf"))
    return edges[edges < distinct[-1]].astype(float)


def _bin_counts(present: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in the right-closed bins ``(-inf, e1], (e1, e2], ..., (ek, inf)``."""
    index = np.searchsorted(edges, present, side="left")
    return np.bincount(index, minlength=len(edges) + 1).astype(float)


def _check_reference(reference: Mapping[str, Any], *, where: str) -> _Reference:
    if not isinstance(reference, Mapping):
        raise ValueError(f"{where}: expected a reference mapping; got {type(reference).__name__}")
    kind = reference.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: expected reference kind in {list(KINDS)}; got {kind!r}")
    bins_key = "edges" if kind == "numeric" else "categories"
    absent = [key for key in (bins_key, "proportions", "missing") if key not in reference]
    if absent:
        raise ValueError(f"{where}: {kind} reference lacks keys {absent}")
    proportions, missing = _check_shares(reference, where=where)
    if kind == "numeric":
        bins: list[Any] = _check_edges(reference["edges"], len(proportions), where=where)
    else:
        bins = _check_categories(reference["categories"], len(proportions), where=where)
    return _Reference(kind, bins, np.asarray(proportions, dtype=float), missing)


def _check_shares(reference: Mapping[str, Any], *, where: str) -> tuple[list[float], float]:
    proportions = _number_list(reference["proportions"], key="proportions", where=where)
    missing = reference["missing"]
    if not _is_number(missing) or not 0 <= missing <= 1:
        raise ValueError(f"{where}: expected reference missing share in [0, 1]; got {missing!r}")
    if any(not 0 <= p <= 1 for p in proportions):
        raise ValueError(f"{where}: expected reference proportions in [0, 1]; got {proportions}")
    total = sum(proportions) + missing
    if abs(total - 1) > SUM_TOLERANCE:
        raise ValueError(
            f"{where}: expected reference proportions and missing share to add up to 1; "
            f"got {total:.6g}"
        )
    return proportions, float(missing)


def _check_edges(value: Any, n_proportions: int, *, where: str) -> list[float]:
    edges = _number_list(value, key="edges", where=where)
    if any(not math.isfinite(e) for e in edges) or any(
        b <= a for a, b in itertools.pairwise(edges)
    ):
        raise ValueError(f"{where}: expected finite, ascending reference edges; got {edges}")
    # An all-missing reference has no bins at all: no edges and no proportions.
    if n_proportions != (len(edges) + 1 if n_proportions or edges else 0):
        raise ValueError(
            f"{where}: expected len(edges) + 1 proportions (none when all missing); got "
            f"{len(edges)} edges and {n_proportions} proportions"
        )
    return edges


def _check_categories(value: Any, n_proportions: int, *, where: str) -> list[str]:
    if not isinstance(value, list) or any(not isinstance(c, str) for c in value):
        raise ValueError(
            f"{where}: expected reference categories as a list of strings; got {value!r}"
        )
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: expected unique reference categories; got {value}")
    if n_proportions != len(value):
        raise ValueError(
            f"{where}: expected one proportion per category; got {len(value)} categories "
            f"and {n_proportions} proportions"
        )
    return list(value)


def _number_list(value: Any, *, key: str, where: str) -> list[float]:
    if not isinstance(value, list) or any(not _is_number(v) for v in value):
        raise ValueError(f"{where}: expected reference {key} as a list of numbers; got {value!r}")
    return [float(v) for v in value]


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool | np.bool_)


def _as_series(values: Values, *, where: str) -> pd.Series:
    if isinstance(values, pd.Series):
        series = values
    else:
        dimensions = np.ndim(values)
        if dimensions != 1:
            raise ValueError(
                f"{where}: expected one-dimensional values; got {dimensions} dimensions"
            )
        series = pd.Series(values)
    if series.empty:
        raise ValueError(f"{where}: expected at least one value; got none")
    return series


def _is_categorical(series: pd.Series, *, where: str) -> bool:
    dtype = series.dtype
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    ):
        return True
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return False
    raise TypeError(
        f"{where}: expected numeric, string, object, category or bool values; got dtype {dtype}"
    )


def _numbers(series: pd.Series) -> np.ndarray:
    """Float values with NaN for every missing one (NaN, None, pd.NA)."""
    return series.to_numpy(dtype=float, na_value=np.nan)


def _numbers_for_reference(series: pd.Series, *, where: str) -> np.ndarray:
    if series.isna().all():
        return np.full(len(series), np.nan)
    if _is_categorical(series, where=where):
        raise ValueError(
            f"{where}: expected numeric values for a numeric reference; got dtype {series.dtype}"
        )
    return _numbers(series)


def _labels(series: pd.Series) -> pd.Series:
    """The non-missing values as strings, the form categories are stored in."""
    return series[~series.isna().to_numpy()].astype(str)


def _check_n_bins(n_bins: int, *, where: str) -> None:
    if not isinstance(n_bins, Integral) or isinstance(n_bins, bool) or n_bins < 2:
        raise ValueError(f"{where}: expected n_bins as a whole number >= 2; got {n_bins!r}")


def _check_epsilon(epsilon: float, *, where: str) -> None:
    if not _is_number(epsilon) or not 0 < epsilon < 1:
        raise ValueError(f"{where}: expected epsilon in (0, 1); got {epsilon!r}")
