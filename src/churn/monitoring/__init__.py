"""Drift of features and scores between training and scoring data, by population stability index.

Training stores :func:`reference_distributions` of its columns in the model bundle's manifest; a
reference holds only plain JSON values (str, float, int, list, None). Scoring compares new data
with them in :func:`drift_report`.

A numeric reference bins the values at quantile edges; only the inner edges are stored, the outer
bins are open: ``(-inf, e1], (e1, e2], ..., (ek, inf)``. A categorical reference lists the sorted
categories (as strings). Shares are of all rows, so the bin proportions and the missing share add
up to one.

PSI is the sum over bins of ``(a - e) * ln(a / e)``, ``e`` the reference share and ``a`` the
share now, both floored at ``epsilon``. Missing values have a bin of their own, and categories the
reference has never seen share an "other" bin. Rule of thumb: below 0.1 stable, 0.1 to 0.25 a
moderate shift, 0.25 and above a major one.
"""

from churn.monitoring.drift import (
    REPORT_COLUMNS,
    STATUSES,
    DriftConfig,
    drift_report,
    psi,
    summarise_drift,
)
from churn.monitoring.reference import (
    EPSILON,
    KINDS,
    SUM_TOLERANCE,
    reference_distribution,
    reference_distributions,
)

__all__ = [
    "EPSILON",
    "KINDS",
    "REPORT_COLUMNS",
    "STATUSES",
    "SUM_TOLERANCE",
    "DriftConfig",
    "drift_report",
    "psi",
    "reference_distribution",
    "reference_distributions",
    "summarise_drift",
]
