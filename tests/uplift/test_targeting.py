"""Planning by predicted uplift: the effect matrix, and the fallbacks to net benefit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.catalog import Offer, OfferConfig
from churn.offers import assign_offers, benefits
from churn.uplift.evaluation import fit
from churn.uplift.settings import UpliftConfig
from churn.uplift.store import StoredUplift
from churn.uplift.targeting import champion, targeting
from tests.uplift.campaigns import planted

CATALOG = (Offer("call", 25.0, 0.3), Offer("voucher", 5.0, 0.1), Offer("nudge", 0.2, 0.05))


def _offers(**changes: object) -> OfferConfig:
    values = {
        "catalog": {o.name: {"cost": o.cost, "save_rate": o.save_rate} for o in CATALOG},
        "budget": 1e6,
        "control_fraction": 0.0,
        "planner": "greedy",
        **changes,
    }
    return OfferConfig.from_mapping(values, tiers=["low", "high"])


@pytest.fixture(scope="module")
def stored() -> StoredUplift:
    config = UpliftConfig.from_mapping(
        {"features": ["churn_probability", "value", "recency_days"], "min_rows_per_offer": 50}
    )
    model = fit([planted("2025-01-01", 3000)], config, seed=0)
    return StoredUplift(model, {"evaluation": {"reason": "test gate"}}, Path("."), 1)


def _customers(n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"customer_id": [f"k{i}" for i in range(n)], "recency_days": rng.uniform(0, 100, n)}
    )
    customers = pd.DataFrame(
        {
            "customer_id": [*list(frame["customer_id"]), "never"],
            "status": ["scored"] * n + ["no_purchase"],
            "churn_probability": [0.6] * n + [np.nan],
            "risk_tier": ["high"] * n + [None],
            "lifecycle_stage": ["established"] * n + [None],
            "value": [100.0] * n + [0.0],
        }
    )
    return frame, customers


def test_benefits_uses_the_uplift_where_known_and_the_save_rate_elsewhere() -> None:
    p, value = np.array([0.5, 0.5]), np.array([100.0, 100.0])
    effect = np.array([[0.2, np.nan, np.nan], [np.nan, np.nan, np.nan]])
    out = benefits(CATALOG, p, value, effect)
    assert out[0, 0] == pytest.approx(0.2 * 100 - 25)
    assert out[1, 0] == pytest.approx(0.5 * 100 * 0.3 - 25)
    assert out[0, 1] == pytest.approx(0.5 * 100 * 0.1 - 5)
    np.testing.assert_allclose(benefits(CATALOG, p, value, None), out[[1, 1]])


def test_targeting_uplift_plans_the_persuadable_first(stored: StoredUplift) -> None:
    frame, customers = _customers()
    config = _offers(objective="uplift", uplift_dir="unused")
    aim = targeting(frame, customers, config, stored)
    assert aim.objective == "uplift"
    assert aim.effect is not None
    assert aim.record["uplift_offers"] == ["call", "voucher"]
    assert aim.record["net_benefit_offers"] == ["nudge"]
    assert np.isnan(aim.effect[-1]).all()  # no purchase: no prediction
    recent = frame["recency_days"].to_numpy() < 50
    assert np.nanmean(aim.effect[:-1][recent, 0]) > np.nanmean(aim.effect[:-1][~recent, 0]) + 0.15
    plan = assign_offers(customers, config, seed=0, effect=aim.effect)
    called = (plan.columns["offer"] == "call").fillna(False).to_numpy()[:-1]
    assert called.any()
    assert recent[called].mean() > 0.9


def test_targeting_budget_zero_contacts_nobody(stored: StoredUplift) -> None:
    frame, customers = _customers()
    config = _offers(objective="uplift", uplift_dir="unused", budget=0.0)
    aim = targeting(frame, customers, config, stored)
    plan = assign_offers(customers, config, seed=0, effect=aim.effect)
    assert plan.columns["offer"].isna().all()
    assert plan.budget_used == 0


def test_targeting_capacity_binds_on_the_largest_effects(stored: StoredUplift) -> None:
    frame, customers = _customers()
    catalog = {o.name: {"cost": o.cost, "save_rate": o.save_rate} for o in CATALOG}
    catalog["call"]["capacity"] = 10
    config = _offers(objective="uplift", uplift_dir="unused", catalog=catalog, planner="exact")
    aim = targeting(frame, customers, config, stored)
    plan = assign_offers(customers, config, seed=0, effect=aim.effect)
    assert int((plan.columns["offer"] == "call").sum()) == 10


def test_targeting_without_a_model_falls_back_with_the_reason() -> None:
    frame, customers = _customers(10)
    config = _offers(objective="uplift", uplift_dir="unused")
    aim = targeting(frame, customers, config, None, unavailable="no champion here")
    assert aim.objective == "net_benefit"
    assert aim.effect is None
    assert aim.record == {"asked": "uplift", "used": "net_benefit", "reason": "no champion here"}


def test_targeting_missing_feature_falls_back(stored: StoredUplift) -> None:
    frame, customers = _customers(10)
    config = _offers(objective="uplift", uplift_dir="unused")
    aim = targeting(frame.drop(columns="recency_days"), customers, config, stored)
    assert aim.objective == "net_benefit"
    assert "recency_days" in aim.record["reason"]


def test_champion_of_an_empty_store_is_none_with_why(tmp_path: Path) -> None:
    config = _offers(objective="uplift", uplift_dir=str(tmp_path / "none"))
    stored, why = champion(config)
    assert stored is None
    assert "no champion" in why
    assert champion(_offers()) == (None, "")
