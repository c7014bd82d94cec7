"""Scoring at an as-of date: probability, tier, value, offer, reasons (docs/scoring-and-offers.md).

:func:`score` takes the features of every buyer at the as-of date (the same
:func:`churn.features.build_features` as training), the bundle's model and manifest, and returns
one row per customer with a status:

* ``scored``: a purchase within the population window (``label.active_within_days`` of the
  bundle's training config) before the as-of date: churn probability, risk tier, value;
* ``lapsed``: bought before, but not within that window: a win-back target, no probability;
* ``no_purchase``: known (customers table, or only refunds) but never bought: an onboarding
  target.

Customers that cannot be scored (all their rows were rejected at load, or they only appear at
or after the as-of date) are listed in the rejects with a reason, so every customer seen in the
input is accounted for exactly once.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa

from churn import model as model_lib
from churn import monitoring, offers, reasons
from churn.config import Config
from churn.errors import BundleError, ConfigError

log = logging.getLogger(__name__)

TIER_METHODS = ("thresholds", "quantiles")
SCORE_COLUMNS = [
    "customer_id",
    "as_of",
    "status",
    "churn_probability",
    "risk_tier",
    "lifecycle_stage",
    "value",
    "value_at_risk",
]
AT_RISK_COLUMNS = [
    "customer_id",
    "as_of",
    "churn_probability",
    "risk_tier",
    "lifecycle_stage",
    "value",
    "value_at_risk",
    "offer",
    "offer_cost",
    "expected_net_benefit",
    "reason_1",
    "reason_2",
    "reason_3",
    "model_version",
    "status",
    "control_group",
    "contact_status",
]


@dataclass(frozen=True)
class TierConfig(Config):
    """Risk tiers (``conf/tiers``): ``edges`` are probabilities or population shares."""

    section: ClassVar[str] = "tiers"

    method: str = "thresholds"
    edges: tuple[float, ...] = (0.0, 0.3, 0.6, 0.85, 1.0)
    names: tuple[str, ...] = ("low", "medium", "high", "very_high")
    at_risk: tuple[str, ...] = ("medium", "high", "very_high")

    def validate(self) -> None:
        """Raise ConfigError unless the edges ascend from 0 to 1 with one name per tier."""
        if self.method not in TIER_METHODS:
            raise ConfigError(
                f"tiers.method: expected one of {list(TIER_METHODS)}; got {self.method!r}"
            )
        edges = list(self.edges)
        if len(edges) < 2 or edges[0] != 0.0 or edges[-1] != 1.0:
            raise ConfigError(
                f"tiers.edges: expected edges from 0 to 1 covering [0, 1]; got {edges}"
            )
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise ConfigError(f"tiers.edges: expected strictly ascending edges; got {edges}")
        if len(self.names) != len(edges) - 1 or len(set(self.names)) != len(self.names):
            raise ConfigError(
                f"tiers.names: expected {len(edges) - 1} distinct names for edges {edges}; "
                f"got {list(self.names)}"
            )
        unknown = sorted(set(self.at_risk) - set(self.names))
        if unknown:
            raise ConfigError(f"tiers.at_risk: {unknown} are not tiers of {list(self.names)}")


def assign_tiers(p: np.ndarray, config: TierConfig) -> pd.Series:
    """The risk tier of each probability: thresholds on p, or shares of the ranked population."""
    probabilities = np.asarray(p, dtype=float)
    if probabilities.size and (
        not np.isfinite(probabilities).all() or probabilities.min() < 0 or probabilities.max() > 1
    ):
        raise ValueError("assign_tiers: expected finite probabilities in [0, 1]")
    inner = np.asarray(config.edges[1:-1])
    if config.method == "quantiles" and probabilities.size:
        # the share of customers ranked below each customer decides its tier
        ranks = pd.Series(probabilities).rank(method="average", pct=True).to_numpy()
        index = np.searchsorted(inner, ranks, side="left")
    else:
        index = np.searchsorted(inner, probabilities, side="right")
    return pd.Series(np.asarray(config.names, dtype=object)[index], dtype="string")


def check_schema(features: pd.DataFrame, manifest: Mapping[str, Any]) -> list[str]:
    """The bundle's feature columns, after checking the scoring features have them, same types.

    Raises:
        BundleError: a feature is missing or has another dtype than at training.
    """
    expected = {f["name"]: str(f["dtype"]) for f in manifest.get("features", [])}
    if not expected:
        raise BundleError("check_schema: the bundle's manifest lists no features")
    missing = [name for name in expected if name not in features.columns]
    if missing:
        raise BundleError(
            f"feature schema mismatch: the model expects {missing}, which the scoring features "
            f"lack (they have {len(features.columns)} columns); the data or the feature config "
            "differs from training"
        )
    changed = {
        name: (dtype, str(features[name].dtype))
        for name, dtype in expected.items()
        if _kind(str(features[name].dtype)) != _kind(dtype)
    }
    if changed:
        detail = ", ".join(f"{k}: trained {a}, now {b}" for k, (a, b) in changed.items())
        raise BundleError(f"feature schema mismatch: {detail}")
    return list(expected)


def _kind(dtype: str) -> str:
    if dtype.startswith(("int", "Int")):
        return "integer"
    if dtype.startswith(("float", "Float")):
        return "float"
    if dtype in ("str", "string", "object") or dtype.startswith("string"):
        return "text"
    return dtype


def predict(
    model: Any, frame: pd.DataFrame, features: Sequence[str], *, batch_size: int
) -> np.ndarray:
    """Calibrated churn probabilities, ``batch_size`` rows at a time."""
    out = np.empty(len(frame))
    for start in range(0, len(frame), batch_size):
        rows = frame.iloc[start : start + batch_size]
        out[start : start + len(rows)] = model.predict_proba(rows[list(features)])[:, 1]
    return out


def explain(
    model: Any, frame: pd.DataFrame, features: Sequence[str], *, batch_size: int, n: int = 3
) -> pd.DataFrame:
    """``reason_1..n`` per row from the model's SHAP contributions, in batches."""
    parts = []
    for start in range(0, len(frame), batch_size):
        rows = frame.iloc[start : start + batch_size]
        contrib = model_lib.contributions(model, rows[list(features)]).drop(columns="bias")
        parts.append(reasons.top_reasons(contrib, rows, n=n))
        log.info("reasons: %d of %d customers", min(start + batch_size, len(frame)), len(frame))
    if not parts:
        return pd.DataFrame({f"reason_{k + 1}": pd.Series(dtype="string") for k in range(n)})
    return pd.concat(parts)


@dataclass(frozen=True)
class ScoreConfig:
    """How to score (``score`` in conf/score.yaml) and what the bundle was trained with."""

    as_of: pd.Timestamp
    horizon_days: int
    active_within_days: int | None
    batch_size: int = 100_000
    reasons_for: str = "at_risk"
    seed: int = 0
    model_version: str = ""


@dataclass
class ScoringOutcome:
    """Every customer's scores, the at-risk list, the drift report and the offer plan."""

    scores: pd.DataFrame
    at_risk: pd.DataFrame
    drift: pd.DataFrame
    assignment: offers.Assignment
    counts: dict[str, Any] = field(default_factory=dict)


def score(
    features: pd.DataFrame,
    model: Any,
    manifest: Mapping[str, Any],
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    offer_config: offers.OfferConfig,
    thresholds: monitoring.DriftConfig,
    no_purchase: Collection[str] = (),
    attributes: pd.DataFrame | None = None,
    suppressed: Collection[str] = (),
    cooled: Collection[str] = (),
) -> ScoringOutcome:
    """Score every buyer at the as-of date and plan the offers.

    Args:
        features: :func:`churn.features.build_features` at ``settings.as_of`` for every buyer
            (no population filter), one row per customer.
        model: the bundle's calibrated model.
        manifest: the bundle's manifest (features, references).
        settings: as-of date, horizon, population window, batches.
        tiers: risk tier config.
        offer_config: catalog, budget and contact policy.
        thresholds: drift warn and flag levels.
        no_purchase: known customers without a purchase before the as-of date.
        attributes: customer attributes (indexed by customer_id) offers may require.
        suppressed: opted-out customer ids.
        cooled: customer ids offered within the cooldown.
    """
    names = check_schema(features, manifest)
    frame = features.reset_index(drop=True)
    in_population = (
        np.ones(len(frame), dtype=bool)
        if settings.active_within_days is None
        else frame["recency_days"].to_numpy() <= settings.active_within_days
    )
    p = predict(model, frame[in_population], names, batch_size=settings.batch_size)
    log.info(
        "scored %d customers at %s (%d lapsed); mean churn probability %.3f",
        int(in_population.sum()),
        settings.as_of.date(),
        int((~in_population).sum()),
        float(p.mean()) if p.size else float("nan"),
    )
    customers = _customer_rows(
        frame,
        in_population,
        p,
        no_purchase,
        settings=settings,
        tiers=tiers,
        margin=offer_config.margin,
    )
    customers, on_list, assignment = plan_offers(
        customers,
        settings=settings,
        tiers=tiers,
        offer_config=offer_config,
        attributes=attributes,
        suppressed=suppressed,
        cooled=cooled,
    )
    scored = (customers["status"] == "scored").to_numpy(dtype=bool)
    explained = {"all": scored, "at_risk": scored & on_list}.get(
        settings.reasons_for, np.zeros(len(customers), dtype=bool)
    )
    _add_reasons(customers, frame, explained, model, names, batch_size=settings.batch_size)
    drift = _drift(frame[in_population], p, names, manifest, thresholds)

    at_risk = at_risk_list(customers[on_list])
    scores = customers[SCORE_COLUMNS].reset_index(drop=True)
    return ScoringOutcome(
        scores, at_risk, drift, assignment, _summary(scores, at_risk, assignment, offer_config)
    )


def plan_offers(
    customers: pd.DataFrame,
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    offer_config: offers.OfferConfig,
    attributes: pd.DataFrame | None,
    suppressed: Collection[str],
    cooled: Collection[str],
) -> tuple[pd.DataFrame, np.ndarray, offers.Assignment]:
    """Join the attributes offers need, assign offers, and mark who is on the at-risk list.

    Returns the customers with the offer columns and ``model_version``, a mask of the rows on
    the list (the at-risk tiers, and everyone else an offer is planned for: onboarding,
    win-back), and the assignment.
    """
    if attributes is not None and not attributes.empty:
        extra = attributes.reindex(customers["customer_id"].astype(str).to_numpy())
        customers = customers.assign(**{str(c): extra[c].to_numpy() for c in extra.columns})
    assignment = offers.assign_offers(
        customers, offer_config, seed=settings.seed, suppressed=suppressed, cooled=cooled
    )
    customers = customers.join(assignment.columns)
    customers["model_version"] = settings.model_version
    at_risk_tier = customers["risk_tier"].isin(tiers.at_risk).fillna(False).to_numpy(dtype=bool)
    contacted = (customers["offer"].notna() | customers["control_group"]).to_numpy(dtype=bool)
    return customers, at_risk_tier | contacted, assignment


def at_risk_list(rows: pd.DataFrame) -> pd.DataFrame:
    """The at-risk list's columns, sorted by expected net benefit (then value at risk, id)."""
    return rows.sort_values(
        ["expected_net_benefit", "value_at_risk", "customer_id"],
        ascending=[False, False, True],
        na_position="last",
    )[AT_RISK_COLUMNS].reset_index(drop=True)


def _customer_rows(
    frame: pd.DataFrame,
    in_population: np.ndarray,
    p: np.ndarray,
    no_purchase: Collection[str],
    *,
    settings: ScoreConfig,
    tiers: TierConfig,
    margin: float,
) -> pd.DataFrame:
    """Buyers (scored or lapsed) then sign-ups without a purchase: status, p, tier, value."""
    newcomers = sorted(set(map(str, no_purchase)) - set(frame["customer_id"].astype(str)))
    n_buyers, n = len(frame), len(frame) + len(newcomers)
    rows = np.flatnonzero(in_population)
    ids = pd.concat(
        [frame["customer_id"].astype("string"), pd.Series(newcomers, dtype="string")],
        ignore_index=True,
    )
    status = np.array(["lapsed"] * n_buyers + ["no_purchase"] * len(newcomers), dtype=object)
    status[rows] = "scored"
    probability = np.full(n, np.nan)
    probability[rows] = p
    tier = pd.Series(pd.NA, index=range(n), dtype="string")
    tier.iloc[rows] = assign_tiers(p, tiers).to_numpy()
    stage = pd.Series(pd.NA, index=range(n), dtype="string")
    stage.iloc[:n_buyers] = frame["lifecycle_stage"].astype("string").to_numpy()
    value = np.full(n, np.nan)
    value[:n_buyers] = offers.customer_value(
        frame["monetary_sum"],
        frame["tenure_days"],
        horizon_days=settings.horizon_days,
        margin=margin,
    ).to_numpy()
    if newcomers:
        # a sign-up who never bought is worth what a typical new customer is worth
        new_values = value[:n_buyers][(frame["lifecycle_stage"] == "new").to_numpy(dtype=bool)]
        value[n_buyers:] = float(np.median(new_values)) if new_values.size else 0.0
    return pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": settings.as_of,
            "status": pd.Series(status, dtype="string"),
            "churn_probability": probability,
            "risk_tier": tier,
            "lifecycle_stage": stage,
            "value": value,
            "value_at_risk": np.where(status == "scored", probability * value, np.nan),
        }
    )


def _add_reasons(
    customers: pd.DataFrame,
    frame: pd.DataFrame,
    explained: np.ndarray,
    model: Any,
    names: Sequence[str],
    *,
    batch_size: int,
) -> None:
    """Fill ``reason_1..3`` for the ``explained`` customers (buyers come first, in order)."""
    buyers = explained[: len(frame)]
    reason_columns = explain(model, frame[buyers], names, batch_size=batch_size)
    for column in reason_columns.columns:
        values = pd.Series(pd.NA, index=customers.index, dtype="string")
        values.iloc[np.flatnonzero(explained)] = reason_columns[column].to_numpy()
        customers[column] = values


def _drift(
    population: pd.DataFrame,
    p: np.ndarray,
    names: Sequence[str],
    manifest: Mapping[str, Any],
    thresholds: monitoring.DriftConfig,
) -> pd.DataFrame:
    """PSI of each feature and of the score against the bundle's training reference."""
    references = manifest.get("reference_distributions") or {}
    current = population[[c for c in names if c in references]].assign(churn_probability=p)
    if current.empty or not references:
        return pd.DataFrame(columns=monitoring.REPORT_COLUMNS)
    known = {k: v for k, v in references.items() if k in current.columns}
    return monitoring.drift_report(known, current, thresholds=thresholds)


def _summary(
    scores: pd.DataFrame,
    at_risk: pd.DataFrame,
    assignment: offers.Assignment,
    offer_config: offers.OfferConfig,
) -> dict[str, Any]:
    return {
        "customers": len(scores),
        "by_status": _counts(scores["status"]),
        "by_tier": _counts(scores["risk_tier"]),
        "at_risk": len(at_risk),
        "by_offer": dict(assignment.counts),
        "control_group": int(at_risk["control_group"].sum()),
        "by_contact_status": _counts(at_risk["contact_status"]),
        "value_at_risk_by_tier": {
            str(k): float(v)
            for k, v in scores.groupby("risk_tier", dropna=True)["value_at_risk"].sum().items()
        },
        "budget": offer_config.budget,
        "budget_used": assignment.budget_used,
        "expected_net_benefit": float(at_risk["expected_net_benefit"].sum(skipna=True)),
    }


def _counts(column: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in column.value_counts(dropna=True).sort_index().items()}


def account_for_customers(
    transactions: pa.Table,
    *,
    as_of: pd.Timestamp,
    buyers: Collection[str],
    customers: pa.Table | None = None,
    rejected_ids: Collection[str] = (),
) -> tuple[list[str], pd.DataFrame]:
    """Who else the input knows: ``no_purchase`` customers and those that cannot be scored.

    Args:
        transactions: the validated transactions.
        as_of: the as-of date.
        buyers: customers with a purchase before ``as_of`` (they get features).
        customers: the optional customers table (``customer_id``, ``signup_date``).
        rejected_ids: customer ids of rows rejected at load.

    Returns:
        The ``no_purchase`` ids (known before ``as_of``, no purchase before it) and the rejects:
        ``customer_id, reason`` for customers first seen at or after ``as_of`` or only in
        rejected rows.
    """
    bought = set(map(str, buyers))
    first = transactions.group_by("customer_id").aggregate([("timestamp", "min")]).to_pandas()
    first_seen = pd.Series(
        pd.to_datetime(first["timestamp_min"]).to_numpy(), index=first["customer_id"].astype(str)
    )
    known = set(first_seen.index[first_seen < as_of])
    later = set(first_seen.index[first_seen >= as_of])
    signed_later: set[str] = set()
    if customers is not None and customers.num_rows:
        table = customers.to_pandas()
        ids = table["customer_id"].astype(str)
        if "signup_date" in table.columns:
            signup = pd.to_datetime(table["signup_date"])
            before = (signup.isna() | (signup < as_of)).to_numpy()
        else:
            before = np.ones(len(table), dtype=bool)
        known |= set(ids[before])
        signed_later = set(ids[~before])
    no_purchase = sorted(known - bought)
    accounted = bought | set(no_purchase)
    reasons_by_id: dict[str, str] = {}
    for cid in sorted((later | signed_later) - accounted):
        reasons_by_id[cid] = (
            f"not yet a customer on {as_of.date()}: first seen at or after the as-of date"
        )
    for cid in sorted(set(map(str, rejected_ids)) - accounted - set(reasons_by_id)):
        reasons_by_id[cid] = (
            "every row of this customer was rejected at load (see the run's rejects.csv)"
        )
    rejects = pd.DataFrame(
        {"customer_id": list(reasons_by_id), "reason": list(reasons_by_id.values())},
        dtype="string",
    )
    return no_purchase, rejects


def drift_of(
    features: pd.DataFrame,
    model: Any,
    manifest: Mapping[str, Any],
    *,
    settings: ScoreConfig,
    thresholds: monitoring.DriftConfig,
) -> pd.DataFrame:
    """The drift report of feature rows (e.g. a sample): population, score, PSI per column."""
    names = check_schema(features, manifest)
    frame = features.reset_index(drop=True)
    if settings.active_within_days is not None:
        frame = frame[frame["recency_days"].to_numpy() <= settings.active_within_days]
    p = predict(model, frame, names, batch_size=settings.batch_size) if len(frame) else np.array([])
    return _drift(frame, p, names, manifest, thresholds)


def buyers_before(transactions: pa.Table, as_of: pd.Timestamp) -> list[str]:
    """Customers with a purchase (amount > 0) before ``as_of``."""
    import pyarrow.compute as pc

    before = pc.less(
        transactions["timestamp"], pa.scalar(as_of.to_pydatetime(), pa.timestamp("us"))
    )
    bought = pc.and_(before, pc.greater(transactions["amount"], 0))
    return sorted(pc.unique(transactions.filter(bought)["customer_id"]).to_pylist())
