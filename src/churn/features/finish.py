"""The last step on the query's result: BG/NBD fitted at each cutoff, final columns and types."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn import btyd
from churn.features.config import FeatureConfig, feature_docs

log = logging.getLogger(__name__)

BTYD_HELPERS = ("c_days", "first_day", "last_day", "last_ts")


def finish_features(
    table: pa.Table,
    config: FeatureConfig,
    *,
    params: Mapping[pd.Timestamp, btyd.BGNBDParams],
    horizon_days: int,
    active_within_days: int | None,
    has_category: bool,
    has_events: bool,
) -> pa.Table:
    """Rows of :func:`feature_query` to final features: BG/NBD outputs, population, types.

    Works on any subset of the rows (e.g. one Spark partition) given the parameters fitted by
    :func:`fit_btyd` on all of them.
    """
    if config.btyd_enabled:
        keep = None
        if active_within_days is not None:
            recency = pc.subtract(table["c_days"], table["last_ts"])
            keep = pc.less_equal(recency, active_within_days).to_numpy(zero_copy_only=False)
        table = _with_btyd(table, config, horizon_days, params, score=keep)
        if keep is not None:
            table = table.filter(pa.array(keep))
    docs = feature_docs(config, has_category=has_category, has_events=has_events)
    return _finalise(table, docs)


def _summary(
    table: pa.Table, unit: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The BG/NBD per-customer summary: x repeat purchase days, t_x and T in ``unit`` days."""
    frame = table.select(["cutoff", "frequency", "first_day", "last_day", "c_days"]).to_pandas()
    x = frame["frequency"].to_numpy(dtype=float) - 1
    t_x = (frame["last_day"] - frame["first_day"]).to_numpy(dtype=float) / unit
    big_t = (frame["c_days"] - frame["first_day"]).to_numpy(dtype=float) / unit
    return frame, x, t_x, big_t


def fit_btyd(table: pa.Table, config: FeatureConfig) -> dict[pd.Timestamp, btyd.BGNBDParams]:
    """Fit BG/NBD at each cutoff on every buyer so far (the rows of :func:`feature_query`).

    The model's summary per customer: x repeat purchase days, t_x from the first to the last
    purchase day, T from the first purchase day to the cutoff, in ``time_unit_days``. A cutoff
    with too few buyers, or whose fit fails, gets no parameters (its columns stay empty).
    """
    frame, x, t_x, big_t = _summary(table, config.btyd_time_unit_days)
    fitted: dict[pd.Timestamp, btyd.BGNBDParams] = {}
    previous: btyd.BGNBDParams | None = None  # warm start: neighbouring cutoffs fit alike
    cutoff_codes = frame["cutoff"].to_numpy()
    for cutoff in np.unique(cutoff_codes):
        rows = cutoff_codes == cutoff
        day = pd.Timestamp(cutoff)
        buyers = int(rows.sum())
        if buyers < config.btyd_min_customers:
            log.warning(
                "BG/NBD at %s: %d buyers, fewer than features.btyd.min_customers=%d; "
                "btyd features left empty for this cutoff",
                day.date(),
                buyers,
                config.btyd_min_customers,
            )
            continue
        try:
            params = btyd.fit_bgnbd(
                x[rows],
                t_x[rows],
                big_t[rows],
                penalizer=config.btyd_penalizer,
                initial=previous,
            )
        except btyd.ConvergenceError as err:
            log.warning(
                "BG/NBD at %s: %s; btyd features left empty for this cutoff", day.date(), err
            )
            continue
        log.debug("BG/NBD at %s on %d buyers: %s", day.date(), buyers, params)
        previous = params
        fitted[day] = params
    return fitted


def _with_btyd(
    table: pa.Table,
    config: FeatureConfig,
    horizon_days: int,
    params: Mapping[pd.Timestamp, btyd.BGNBDParams],
    *,
    score: np.ndarray | None,
) -> pa.Table:
    """Add P(alive), expected purchases and P(no purchase) in the horizon with ``params``.

    Only the rows where ``score`` is true (all when None) get the model's outputs.
    """
    unit = config.btyd_time_unit_days
    frame, x, t_x, big_t = _summary(table, unit)
    p_alive = np.full(len(frame), np.nan)
    expected = np.full(len(frame), np.nan)
    no_purchase = np.full(len(frame), np.nan)
    cutoff_codes = frame["cutoff"].to_numpy()
    for cutoff in np.unique(cutoff_codes):
        fitted = params.get(pd.Timestamp(cutoff))
        if fitted is None:
            continue
        rows = cutoff_codes == cutoff
        if score is not None:
            rows &= score
        p_alive[rows] = btyd.p_alive(fitted, x[rows], t_x[rows], big_t[rows])
        expected[rows] = btyd.expected_purchases(
            fitted, horizon_days / unit, x[rows], t_x[rows], big_t[rows]
        )
        no_purchase[rows] = btyd.p_no_purchase(
            fitted, horizon_days / unit, x[rows], t_x[rows], big_t[rows]
        )
    table = table.append_column("btyd_p_alive", pa.array(p_alive, pa.float64()))
    table = table.append_column("btyd_expected_purchases", pa.array(expected, pa.float64()))
    return table.append_column("btyd_p_no_purchase", pa.array(no_purchase, pa.float64()))


def _finalise(table: pa.Table, docs: Mapping[str, tuple[str, str]]) -> pa.Table:
    """Keep the documented columns in order, with stable types (rows come sorted)."""
    columns: dict[str, pa.Array] = {
        "customer_id": table["customer_id"].cast(pa.string()),
        "cutoff": table["cutoff"].cast(pa.timestamp("us")),
    }
    for name in docs:
        column = table[name]
        if name == "lifecycle_stage":
            columns[name] = column.cast(pa.string())
        elif name in _COUNT_COLUMNS or name.startswith(("purchases_", "complaints_", "tickets_")):
            columns[name] = pc.fill_null(column, 0).cast(pa.int64())
        else:
            columns[name] = column.cast(pa.float64())
    return pa.table(columns)


_COUNT_COLUMNS = frozenset({"frequency", "n_purchases", "active_months", "category_count"})


def is_float_feature(name: str) -> bool:
    """Whether a feature column is continuous (float64) rather than a count or a category."""
    return not (
        name in _COUNT_COLUMNS
        or name == "lifecycle_stage"
        or name.startswith(("purchases_", "complaints_", "tickets_"))
    )
