"""Customer lifetime value against the held-back future: BG/NBD x Gamma-Gamma vs the heuristic.

    python benchmarks/clv.py [--world demo] [--customers 20000] [--seed 0] [--horizons 90 180]

On the demo world (generated into ``data/benchmarks/`` when missing, see ``benchmarks/runs.py``)
the features of every buyer are built at the data end ``E`` (``churn.features.build_features``,
default feature config), and the value model is fitted on them as scoring fits it
(``churn.value.fit_value``). For each horizon ``h`` the spend each buyer is predicted to make
in ``[E, E + h)`` is compared with what they spent in the held-back future
(``future/transactions.parquet``, positive amounts):

* ``clv``: BG/NBD expected purchases (unconditional on being alive) x Gamma-Gamma's
  conditional expected spend per purchase day;
* ``clv (repeat m_x)``: the same with Gamma-Gamma fitted on the textbook input, the mean spend
  of the repeat purchase days only (from the raw transactions), to size the features'
  approximation;
* ``heuristic``: ``h x total spend / max(tenure, 30 days)`` (``churn.offers.customer_value``
  with margin 1).

Both value columns are values *if the customer stays*, so they are also compared on the buyers
who did buy in the window: ``clv if stays`` is the scoring value (margin 1, undiscounted).

Printed: aggregate predicted and actual spend (the acceptance target: within 10%), the
customer-level Pearson and Spearman correlations, the independence check of spend and
frequency, and predicted vs actual purchases and spend by frequency bucket.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from churn import btyd, offers, value
from churn.features import FeatureConfig, build_features
from runs import world_data

BUCKETS = [1, 2, 3, 5, 10, 20, 40, np.inf]


def _repeat_mean_spend(tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Mean spend per repeat purchase day (the first purchase day left out), per customer."""
    bought = tx[(tx["amount"] > 0) & (tx["timestamp"] < as_of)]
    daily = bought.groupby(["customer_id", bought["timestamp"].dt.floor("D")])["amount"].sum()
    daily = daily.reset_index().sort_values(["customer_id", "timestamp"])
    repeat = daily[daily.groupby("customer_id").cumcount() > 0]
    return repeat.groupby("customer_id")["amount"].mean()


def _row(name: str, predicted: np.ndarray, actual: np.ndarray) -> str:
    total, real = float(predicted.sum()), float(actual.sum())
    pearson = stats.pearsonr(predicted, actual).statistic
    spearman = stats.spearmanr(predicted, actual).statistic
    return (
        f"{name:24}{total:14,.0f}{real:14,.0f}{100 * (total / real - 1):+9.1f}%"
        f"{pearson:10.3f}{spearman:10.3f}"
    )


def _fit(folder: Path, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame, value.ValueModel]:
    """Every buyer's features at the data end, and the value model fitted on them."""
    tx = pd.read_parquet(folder / "transactions.parquet")
    as_of = tx["timestamp"].max().normalize() + pd.Timedelta(days=1)
    config = FeatureConfig()
    source = ibis.duckdb.connect().read_parquet(folder / "transactions.parquet")
    features = build_features(source, [as_of], config, horizon_days=horizon).to_pandas()
    fitted = value.fit_value(
        features,
        value.ValueConfig(method="clv", annual_discount_rate=0.0, margin=1.0),
        horizon_days=horizon,
        features=config,
    )
    if fitted.bgnbd is None or fitted.gamma_gamma is None:
        raise SystemExit(f"the clv fit fell back to the heuristic: {fitted.fallback_reason}")
    return tx, features, fitted


def _independence(name: str, x: np.ndarray, m: np.ndarray) -> None:
    c = btyd.spend_frequency_independence(x, m)
    print(
        f"independence ({name}): Pearson {c.pearson:.3f} (p={c.pearson_p_value:.2g}), "
        f"Spearman {c.spearman:.3f} (p={c.spearman_p_value:.2g}), independent={c.independent}"
    )


def _horizon(
    h: int, future: pd.DataFrame, features: pd.DataFrame, fitted: value.ValueModel, **spends: Any
) -> None:
    """The comparison over the first ``h`` days of the held-back future."""
    assert fitted.bgnbd is not None
    as_of = features["cutoff"].iloc[0]
    x, t_x, big_t, m = value.value_summary(features, time_unit_days=fitted.time_unit_days)
    bought = future[(future["amount"] > 0) & (future["timestamp"] < as_of + pd.Timedelta(days=h))]
    ids = features["customer_id"]
    actual = bought.groupby("customer_id")["amount"].sum().reindex(ids).fillna(0.0).to_numpy()
    days = bought["timestamp"].dt.floor("D").groupby(bought["customer_id"]).nunique()
    actual_n = days.reindex(ids).fillna(0).to_numpy()
    purchases = btyd.expected_purchases(fitted.bgnbd, h / fitted.time_unit_days, x, t_x, big_t)
    alive = btyd.p_alive(fitted.bgnbd, x, t_x, big_t)
    heuristic = offers.customer_value(
        features["monetary_sum"], features["tenure_days"], horizon_days=h, margin=1.0
    ).to_numpy()
    if_stays = value.clv_value(dataclasses.replace(fitted, horizon_days=h), x, big_t, m)
    print(f"\nspend in the {h} days after {as_of.date()} (held-back future), every buyer")
    print(
        f"{'method':24}{'predicted':>14}{'actual':>14}{'error':>10}{'pearson':>10}{'spearman':>10}"
    )
    print(_row("clv", purchases * spends["clv"], actual))
    print(_row("clv (repeat m_x)", purchases * spends["repeat"], actual))
    print(_row("heuristic", heuristic, actual))
    print(_row("clv if stays x P(alive)", if_stays * alive, actual))
    print(_row("heuristic x P(alive)", heuristic * alive, actual))
    stayed = actual > 0
    print(f"value if the customer stays (the value column), the {int(stayed.sum())} who bought:")
    print(_row("clv if stays", if_stays[stayed], actual[stayed]))
    print(_row("heuristic", heuristic[stayed], actual[stayed]))
    print(f"purchase days: predicted {purchases.sum():,.0f}, actual {actual_n.sum():,.0f}")
    table = pd.DataFrame(
        {
            "bucket": pd.cut(x + 1, BUCKETS, right=False),
            "buyers": 1,
            "pred_days": purchases,
            "actual_days": actual_n,
            "pred_spend": purchases * spends["clv"],
            "actual_spend": actual,
            "heuristic": heuristic,
        }
    )
    print("by purchase days before the data end (frequency):")
    print(table.groupby("bucket", observed=True).sum().round(0).to_string())


def main() -> None:
    """Print the comparison for each horizon."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", default="demo")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--horizons", type=int, nargs="+", default=[90, 180])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = world_data(args.world, args.seed, args.customers, Path(tmp))
    tx, features, fitted = _fit(folder, max(args.horizons))
    assert fitted.gamma_gamma is not None
    x, _, _, m = value.value_summary(features, time_unit_days=fitted.time_unit_days)
    as_of = features["cutoff"].iloc[0]
    ids = features["customer_id"]
    repeat_m = _repeat_mean_spend(tx, as_of).reindex(ids).fillna(0.0).to_numpy()
    textbook = btyd.fit_gamma_gamma(x[x > 0], repeat_m[x > 0])
    print(f"{args.world} world, {args.customers} customers, seed {args.seed}: data end {as_of}")
    print(f"{len(features)} buyers, {int((x > 0).sum())} repeat buyers; BG/NBD {fitted.bgnbd}")
    print(f"Gamma-Gamma on monetary_sum / frequency (all purchase days): {fitted.gamma_gamma}")
    print(f"Gamma-Gamma on the mean of the repeat purchase days (textbook): {textbook}")
    _independence("all purchase days", x, m)
    _independence("repeat purchase days", x, repeat_m)
    spends = {
        "clv": btyd.conditional_expected_spend(fitted.gamma_gamma, x, m),
        "repeat": btyd.conditional_expected_spend(textbook, x, repeat_m),
    }
    future = pd.read_parquet(folder / "future" / "transactions.parquet")
    for h in args.horizons:
        _horizon(h, future, features, fitted, **spends)


if __name__ == "__main__":
    main()
