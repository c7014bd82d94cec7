"""The randomised customers of past campaigns: what they got, what they were like, what happened.

Every export records each customer's ``assignment_probability``: the chance of what they got
(an offer, or none) under the campaign's randomisation (:mod:`churn.exploration`). A customer
whose probability is below 1 was randomised: the plan's contacts and its control group (the
control draw), and with ``offers.explore_fraction`` every eligible customer (the exploration
draw). Customers whose assignment followed from their scores alone (probability 1: ineligible,
or eligible but not planned without exploration) say nothing about an offer's effect and are
left out, as are the customers without a churn probability (lapsed, never bought).

A row is **treated** with offer ``k`` when the customer was contacted with it
(``contact_status`` ``offer`` or ``explore``) and **untreated** otherwise (``control``, and the
randomised customers left without an offer); its weight is ``1 / assignment_probability``, so
each arm stands for the whole randomised population. The outcome is churn in the export's
window ``[as_of, as_of + H)``, read from the data as :mod:`churn.outcomes` reads it; the
features are the behavioural features at the as-of date (rows strictly before it, the feature
code itself) and the export's own ``churn_probability`` and ``value``, so scoring can compute
the same inputs at its as-of date.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from churn.errors import DataError
from churn.features import FeatureConfig, build_features
from churn.outcomes.exports import PastExport
from churn.outcomes.realised import Observed, join_outcomes, window_outcomes
from churn.uplift.settings import EXPORT_FEATURES

log = logging.getLogger(__name__)

SCORES = "scores.parquet"
TREATED_STATUSES = ("offer", "explore")
# columns of scores.parquet a campaign's rows need (the eligibility columns ride along)
COLUMNS = (
    "customer_id",
    "status",
    "churn_probability",
    "risk_tier",
    "lifecycle_stage",
    "value",
    "offer",
    "contact_status",
    "assignment_probability",
)


@dataclass(frozen=True)
class Campaign:
    """The randomised customers of one export.

    Attributes:
        as_of: the export's as-of date.
        rows: one row per randomised customer: ``customer_id, treatment`` (the offer, or NA when
            untreated), ``churned`` (0/1), ``weight``, the eligibility columns (``status,
            risk_tier, lifecycle_stage, value``) and the feature columns.
        skipped: why customers were left out, with counts.
    """

    as_of: pd.Timestamp
    rows: pd.DataFrame
    skipped: Mapping[str, int]

    def treated(self) -> dict[str, int]:
        """Randomised treated customers per offer."""
        counts = self.rows["treatment"].dropna().value_counts()
        return {str(k): int(v) for k, v in counts.sort_index().items()}

    @property
    def untreated(self) -> int:
        """Randomised customers without an offer."""
        return int(self.rows["treatment"].isna().sum())


def randomised_rows(scores: pd.DataFrame, *, where: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The export's randomised customers with ``treatment`` and ``weight``; and the left-out counts.

    Raises:
        DataError: a column is missing or an assignment probability is outside (0, 1].
    """
    missing = [c for c in COLUMNS if c not in scores.columns]
    if missing:
        raise DataError(
            f"{where}: expected the columns {list(COLUMNS)} (exports written with the contact "
            f"columns record them); missing {missing}"
        )
    probability = pd.to_numeric(scores["assignment_probability"], errors="coerce")
    bad = probability.notna() & ~((probability > 0) & (probability <= 1))
    if bad.any():
        raise DataError(
            f"{where}: assignment_probability must lie in (0, 1]; got "
            f"{probability[bad].head(3).tolist()}"
        )
    scored = (scores["status"].astype("string") == "scored").fillna(False).to_numpy(dtype=bool)
    chance = probability.fillna(1.0).to_numpy(dtype=float) < 1.0
    keep = scored & chance
    skipped = {"not scored": int((~scored).sum()), "not randomised": int((scored & ~chance).sum())}
    rows = scores.loc[keep, list(COLUMNS)].copy()
    status = rows["contact_status"].astype("string")
    treated = status.isin(TREATED_STATUSES).fillna(False).to_numpy(dtype=bool)
    rows["treatment"] = rows["offer"].astype("string").where(treated)
    rows["weight"] = 1.0 / probability[keep].to_numpy(dtype=float)
    rows["customer_id"] = rows["customer_id"].astype("string")
    return rows.drop(columns=["offer", "assignment_probability"]).reset_index(drop=True), skipped


def campaign_history(
    exports: Sequence[PastExport],
    observed: Observed,
    feature_config: FeatureConfig,
    *,
    features: Sequence[str],
    margin: float = 0.3,
) -> list[Campaign]:
    """The randomised customers of each measurable export, oldest first.

    Args:
        exports: the exports whose outcome window has passed (:func:`churn.outcomes.due_exports`).
        observed: the data the outcomes and features are read from.
        feature_config: the churn model's feature settings (the same features as at scoring).
        features: the model's input columns (``uplift.features``).
        margin: ``offers.margin`` (the realised margin of the window, kept for reports).

    Raises:
        DataError: an export lacks the contact columns, or a feature is not computed.
    """
    campaigns = []
    wanted = [f for f in features if f not in EXPORT_FEATURES]
    for past in exports:
        where = f"uplift: export {past.folder}"
        scores = _read_scores(Path(past.folder) / SCORES, where=where)
        if "assignment_probability" not in scores.columns:
            log.warning(
                "%s has no assignment_probability (written before exports recorded it): left out",
                where,
            )
            continue
        rows, skipped = randomised_rows(scores, where=where)
        if rows.empty:
            log.info("%s: no randomised customers (%s)", where, skipped)
            continue
        window = window_outcomes(observed, past.as_of, past.horizon_days)
        joined = join_outcomes(rows, window, observed.known, margin=margin)
        in_data = joined["in_data"].to_numpy(dtype=bool)
        skipped["not in the data"] = int((~in_data).sum())
        rows = joined.loc[in_data].drop(columns=["in_data", "spend", "margin_value"])
        frame = behaviour_at(
            observed.transactions,
            past.as_of,
            feature_config,
            events=observed.events,
            horizon_days=past.horizon_days,
            purchase_rule=observed.purchase_rule,
            columns=wanted,
        )
        rows = rows.merge(frame, on="customer_id", how="left", validate="one_to_one")
        rows["churned"] = rows["churned"].astype("float64")
        campaigns.append(Campaign(past.as_of, rows.reset_index(drop=True), skipped))
        log.info(
            "uplift: campaign %s: %d randomised customers (treated %s, untreated %d)",
            past.as_of.date(),
            len(rows),
            campaigns[-1].treated(),
            campaigns[-1].untreated,
        )
    return campaigns


def behaviour_at(
    transactions: ir.Table,
    as_of: pd.Timestamp,
    feature_config: FeatureConfig,
    *,
    events: ir.Table | None,
    horizon_days: int,
    purchase_rule: str,
    columns: Sequence[str],
) -> pd.DataFrame:
    """``customer_id`` and the feature ``columns`` of every buyer at ``as_of``.

    Raises:
        DataError: a requested column is not among the computed features.
    """
    table = build_features(
        transactions,
        [pd.Timestamp(as_of)],
        feature_config,
        events=events,
        horizon_days=horizon_days,
        active_within_days=None,
        purchase_rule=purchase_rule,
    ).to_pandas()
    where = f"uplift: features at {pd.Timestamp(as_of).date()}"
    return feature_columns(table, columns, where=where)


def feature_columns(table: pd.DataFrame, columns: Sequence[str], *, where: str) -> pd.DataFrame:
    """``customer_id`` and ``columns`` of a feature table, as floats.

    Raises:
        DataError: a column is missing (named, with the columns there are).
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"{where}: uplift.features {missing} are not computed by the churn model's feature "
            f"settings; available: {sorted(c for c in table.columns if c != 'customer_id')}"
        )
    out = pd.DataFrame({"customer_id": table["customer_id"].astype("string")})
    for name in columns:
        out[name] = pd.to_numeric(table[name], errors="coerce").astype("float64").to_numpy()
    return out


def model_inputs(rows: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The model's input frame: ``features`` as float columns, in order."""
    return pd.DataFrame(
        {f: pd.to_numeric(rows[f], errors="coerce").astype("float64").to_numpy() for f in features},
        index=rows.index,
    )


def pooled(campaigns: Sequence[Campaign]) -> pd.DataFrame:
    """The rows of several campaigns together, with their ``as_of``."""
    if not campaigns:
        return pd.DataFrame(columns=["as_of", *COLUMNS])
    return pd.concat(
        [c.rows.assign(as_of=c.as_of) for c in campaigns], ignore_index=True, sort=False
    )


def _read_scores(path: Path, *, where: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError as err:
        raise DataError(f"{where}: {path.name} not found; expected the export's scores") from err
    except (OSError, ValueError) as err:
        raise DataError(f"{where}: {path.name} cannot be read: {err}") from err
    return frame


def summary(campaigns: Sequence[Campaign]) -> list[dict[str, Any]]:
    """Per campaign: as-of date, randomised treated customers per offer, untreated, left out."""
    return [
        {
            "as_of": str(c.as_of.date()),
            "treated": c.treated(),
            "untreated": c.untreated,
            "churn_rate": float(np.average(c.rows["churned"], weights=c.rows["weight"]))
            if len(c.rows)
            else None,
            "left_out": dict(c.skipped),
        }
        for c in campaigns
    ]
