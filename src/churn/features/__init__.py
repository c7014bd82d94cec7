"""Behavioural features per (customer, cutoff), strictly from rows before the cutoff.

Feature definitions are written once as ibis expressions, so the same code runs on DuckDB
(embedded, the default, out of core over Parquet) and on Spark. All cutoffs are computed in one
query, and nothing loops over customers in Python:

* per-row helpers that do not depend on the cutoff (the gap to the previous purchase day, the
  running spend) come from one window over each customer's purchases;
* all-history aggregates are computed once per (customer, interval between consecutive cutoffs)
  and accumulated in cutoff order, so no row is joined to every later cutoff;
* window counts and spend join only the rows inside the longest window to each cutoff.

The modules: :mod:`~churn.features.config` (the settings and the documentation of every column),
:mod:`~churn.features.query` with :mod:`~churn.features.aggregates` and
:mod:`~churn.features.events` (the ibis query), :mod:`~churn.features.finish` (BG/NBD fitted at
each cutoff, types and the last derived columns) and :mod:`~churn.features.build` (the query run,
finished and returned or written to Parquet in batches). The same :func:`build_features` serves
training (many cutoffs) and scoring (one as-of date), so the two can never disagree.
"""

from churn.features.build import RESULT_BATCH_ROWS, Subset, build_features, write_features
from churn.features.config import (
    DEFINITIONS_VERSION,
    MAX_ACTIVE_PERIODS,
    PERIOD_DAYS,
    SECONDS_PER_DAY,
    FeatureConfig,
    feature_docs,
)
from churn.features.finish import BTYD_HELPERS, finish_features, fit_btyd, is_float_feature
from churn.features.query import btyd_summary, feature_query

__all__ = [
    "BTYD_HELPERS",
    "DEFINITIONS_VERSION",
    "MAX_ACTIVE_PERIODS",
    "PERIOD_DAYS",
    "RESULT_BATCH_ROWS",
    "SECONDS_PER_DAY",
    "FeatureConfig",
    "Subset",
    "btyd_summary",
    "build_features",
    "feature_docs",
    "feature_query",
    "finish_features",
    "fit_btyd",
    "is_float_feature",
    "write_features",
]
