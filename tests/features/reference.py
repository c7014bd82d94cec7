"""An independent, straightforward pandas implementation of the feature set.

The engine (ibis on DuckDB) must match it to 1e-9. It loops over cutoffs and uses plain
groupby on the rows before each cutoff: slow, obvious, and written without looking at the SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn import btyd
from churn.features import FeatureConfig


def _days(ts: pd.Series | pd.Timestamp) -> pd.Series | float:
    return (ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)


def reference_features(
    tx: pd.DataFrame,
    cutoffs: list[pd.Timestamp],
    config: FeatureConfig,
    *,
    events: pd.DataFrame | None,
    horizon_days: int,
    active_within_days: int | None,
) -> pd.DataFrame:
    """Features at each cutoff, one row per (customer_id, cutoff)."""
    frames = [_at_cutoff(tx, c, config, events, horizon_days, active_within_days) for c in cutoffs]
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["cutoff", "customer_id"], ignore_index=True)


def _at_cutoff(
    tx: pd.DataFrame,
    cutoff: pd.Timestamp,
    config: FeatureConfig,
    events: pd.DataFrame | None,
    horizon_days: int,
    active_within_days: int | None,
) -> pd.DataFrame:
    before = tx[tx["timestamp"] < cutoff]
    p = before[before["amount"] > 0].copy()
    p["t"] = _days(p["timestamp"])
    p["day"] = _days(p["timestamp"].dt.floor("D"))
    c = float(_days(cutoff))
    g = p.groupby("customer_id")
    f = pd.DataFrame(index=pd.Index(sorted(p["customer_id"].unique()), name="customer_id"))
    f["recency_days"] = c - g["t"].max()
    f["tenure_days"] = c - g["t"].min()
    f["frequency"] = g["day"].nunique()
    f["n_purchases"] = g.size()
    f["monetary_sum"] = g["amount"].sum()
    f["monetary_mean"] = g["amount"].mean()
    f["monetary_std"] = g["amount"].std(ddof=1)
    f["monetary_max"] = g["amount"].max()
    day_spend = p.groupby(["customer_id", "day"])["amount"].sum().reset_index()
    last_day = day_spend.sort_values("day").groupby("customer_id").tail(1).set_index("customer_id")
    f["last_amount"] = last_day["amount"]
    age = c - p["t"]
    for w in config.windows:
        inside = p[age <= w]
        f[f"purchases_{w}d"] = inside.groupby("customer_id").size().reindex(f.index, fill_value=0)
        f[f"spend_{w}d"] = (
            inside.groupby("customer_id")["amount"].sum().reindex(f.index, fill_value=0.0)
        )
    t = config.trend_days
    last_n = p[age <= t].groupby("customer_id").size().reindex(f.index, fill_value=0)
    prev_n = (
        p[(age > t) & (age <= 2 * t)].groupby("customer_id").size().reindex(f.index, fill_value=0)
    )
    last_s = p[age <= t].groupby("customer_id")["amount"].sum().reindex(f.index, fill_value=0.0)
    prev_s = (
        p[(age > t) & (age <= 2 * t)]
        .groupby("customer_id")["amount"]
        .sum()
        .reindex(f.index, fill_value=0.0)
    )
    f[f"purchase_trend_{t}d"] = np.log((last_n + 1) / (prev_n + 1))
    f[f"spend_trend_{t}d"] = np.log((last_s + 1) / (prev_s + 1))
    gaps = {}
    for customer, days in p.groupby("customer_id")["day"]:
        unique_days = np.sort(days.unique())
        diffs = np.diff(unique_days)
        gaps[customer] = (
            diffs.mean() if diffs.size else np.nan,
            diffs.std(ddof=1) if diffs.size > 1 else np.nan,
            diffs.max() if diffs.size else np.nan,
            diffs[-1] if diffs.size else np.nan,
        )
    gap_frame = pd.DataFrame.from_dict(
        gaps,
        orient="index",
        columns=["gap_mean_days", "gap_std_days", "gap_max_days", "gap_last_days"],
    )
    f = f.join(gap_frame)
    f["recency_gap_ratio"] = f["recency_days"] / f["gap_mean_days"]
    day_age = c - p["day"]
    recent = p[day_age <= config.active_periods * 30]
    periods = np.floor((c - recent["day"] - 1) / 30)
    f["active_months"] = (
        periods.groupby(recent["customer_id"]).nunique().reindex(f.index, fill_value=0)
    )
    refunds = before[before["amount"] < 0]
    refunded = -refunds.groupby("customer_id")["amount"].sum()
    f["refund_share"] = refunded.reindex(f.index, fill_value=0.0) / f["monetary_sum"]
    if "category" in p:
        f["category_count"] = g["category"].nunique()
        top = p.groupby(["customer_id", "category"]).size().groupby("customer_id").max()
        f["top_category_share"] = top / f["n_purchases"]
    recency, gap_mean = f["recency_days"], f["gap_mean_days"]
    lapsing = (recency > config.lapsing_min_days) & (
        gap_mean.isna() | (recency > config.lapsing_gap_multiple * gap_mean)
    )
    f["lifecycle_stage"] = np.where(
        f["tenure_days"] < config.new_days, "new", np.where(lapsing, "lapsing", "established")
    )
    if events is not None:
        ev = events[events["timestamp"] < cutoff].copy()
        ev["t"] = _days(ev["timestamp"])
        e = config.event_days
        recent_ev = ev[c - ev["t"] <= e]
        for kind, name in (("complaint", f"complaints_{e}d"), ("support_ticket", f"tickets_{e}d")):
            counts = recent_ev[recent_ev["type"] == kind].groupby("customer_id").size()
            f[name] = counts.reindex(f.index, fill_value=0)
        nps = ev[(ev["type"] == "nps") & ev["value"].notna()].sort_values("timestamp")
        f["last_nps"] = nps.groupby("customer_id")["value"].last().reindex(f.index)
        f["nps_detractor"] = np.where(
            f["last_nps"].isna(), np.nan, (f["last_nps"] <= 6).astype(float)
        )
    if config.btyd_enabled:
        _add_btyd(f, p, c, config, horizon_days)
    if active_within_days is not None:
        f = f[f["recency_days"] <= active_within_days]
    f = f.reset_index()
    f.insert(1, "cutoff", cutoff)
    return f


def _add_btyd(
    f: pd.DataFrame, p: pd.DataFrame, c: float, config: FeatureConfig, horizon_days: int
) -> None:
    unit = config.btyd_time_unit_days
    days = p.groupby("customer_id")["day"]
    if days.ngroups < config.btyd_min_customers:
        f["btyd_p_alive"] = np.nan
        f["btyd_expected_purchases"] = np.nan
        f["btyd_p_no_purchase"] = np.nan
        return
    x = (days.nunique() - 1).astype(float)
    t_x = (days.max() - days.min()) / unit
    big_t = (c - days.min()) / unit
    params = btyd.fit_bgnbd(
        x.to_numpy(), t_x.to_numpy(), big_t.to_numpy(), penalizer=config.btyd_penalizer
    )
    f["btyd_p_alive"] = btyd.p_alive(params, x.to_numpy(), t_x.to_numpy(), big_t.to_numpy())
    f["btyd_expected_purchases"] = btyd.expected_purchases(
        params, horizon_days / unit, x.to_numpy(), t_x.to_numpy(), big_t.to_numpy()
    )
    f["btyd_p_no_purchase"] = btyd.p_no_purchase(
        params, horizon_days / unit, x.to_numpy(), t_x.to_numpy(), big_t.to_numpy()
    )
