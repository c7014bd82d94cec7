"""Offer catalog validation, eligibility and the budgeted assignment of offers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from churn import offers
from churn.errors import ConfigError
from churn.offers import Offer, OfferConfig, assign_offers, customer_value, eligibility

TIERS = ["low", "medium", "high", "very_high"]
DEFAULT_YAML = Path(__file__).resolve().parents[1] / "conf" / "offers" / "default.yaml"
ATTRIBUTE = "subscription_renewal_date"

# A small catalog where every scored customer is eligible for both offers.
SIMPLE: dict[str, dict[str, Any]] = {
    "call": {"cost": 10.0, "save_rate": 0.5},
    "email": {"cost": 1.0, "save_rate": 0.1},
}


def _default_values() -> dict[str, Any]:
    values = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    assert isinstance(values, dict)
    return values


def _config(catalog: dict[str, dict[str, Any]] | None = None, **policy: Any) -> OfferConfig:
    """A config with an ample budget and no control group unless ``policy`` says otherwise."""
    values: dict[str, Any] = {"budget": 1e9, "control_fraction": 0.0}
    values |= policy
    values["catalog"] = _default_values()["catalog"] if catalog is None else catalog
    return OfferConfig.from_mapping(values, tiers=TIERS)


def _tier(p: np.ndarray) -> np.ndarray:
    return np.array(TIERS, dtype=object)[np.digitize(p, [0.25, 0.5, 0.75])]


def _population(n: int, seed: int, *, attribute: bool = True) -> pd.DataFrame:
    """Scored, lapsed and never-bought customers the way scoring hands them to the offers."""
    rng = np.random.default_rng(seed)
    status = rng.choice(["scored", "lapsed", "no_purchase"], size=n, p=[0.8, 0.1, 0.1])
    scored = status == "scored"
    p = np.where(scored, rng.uniform(0.0, 1.0, n), np.nan)
    tier = pd.Series(_tier(np.nan_to_num(p)), dtype="string").where(scored)
    stage = rng.choice(["new", "established", "lapsing"], size=n).astype(object)
    stage[status == "no_purchase"] = None
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i:05d}" for i in range(n)],
            "status": pd.Series(status, dtype="string"),
            "churn_probability": p,
            "risk_tier": tier,
            "lifecycle_stage": pd.Series(stage, dtype="string"),
            "value": rng.lognormal(mean=3.5, sigma=1.0, size=n),
        }
    )
    if attribute:
        dates = pd.Series(pd.Timestamp("2024-07-01"), index=frame.index)
        frame[ATTRIBUTE] = dates.where(rng.uniform(size=n) < 0.5)
    return frame


def _customers(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Hand-written customers; scored, established, low tier unless a row says otherwise."""
    defaults = {
        "status": "scored",
        "churn_probability": 0.5,
        "risk_tier": "low",
        "lifecycle_stage": "established",
        "value": 100.0,
    }
    frame = pd.DataFrame([defaults | row for row in rows])
    for column in ("status", "risk_tier", "lifecycle_stage", "customer_id"):
        frame[column] = frame[column].astype("string")
    frame["churn_probability"] = frame["churn_probability"].astype("float64")
    return frame


def _benefits(customers: pd.DataFrame, config: OfferConfig) -> pd.DataFrame:
    """Net benefit of every eligible (customer, offer) pair, NaN where not eligible."""
    p = customers["churn_probability"].fillna(1.0).to_numpy()
    value = customers["value"].fillna(0.0).to_numpy()
    return pd.DataFrame(
        {
            o.name: np.where(eligibility(customers, o), p * value * o.save_rate - o.cost, np.nan)
            for o in config.catalog
        },
        index=customers.index,
    )


def _offered(result: offers.Assignment) -> pd.Series:
    return result.columns["offer"].notna()


def test_from_mapping_builds_default_catalog() -> None:
    config = OfferConfig.from_mapping(_default_values(), tiers=TIERS)
    by_name = {o.name: o for o in config.catalog}
    assert len(config.catalog) >= 6
    assert {"onboarding_nudge", "win_back", "personal_call"} <= set(by_name)
    assert "no_purchase" in by_name["onboarding_nudge"].statuses
    assert "lapsed" in by_name["win_back"].statuses
    assert by_name["personal_call"].capacity is not None
    renewal = [o for o in config.catalog if "renewal" in o.name]
    assert len(renewal) == 1
    assert renewal[0].requires_attribute is not None
    assert config.budget > 0
    assert 0 < config.control_fraction < 1


def test_from_mapping_keeps_policy_and_offer_fields() -> None:
    config = OfferConfig.from_mapping(
        {
            "budget": 100.0,
            "margin": 0.4,
            "control_fraction": 0.1,
            "cooldown_days": 14,
            "catalog": {
                "x": {
                    "cost": 2,
                    "save_rate": 0.3,
                    "statuses": ["scored", "lapsed"],
                    "stages": ["lapsing"],
                    "tiers": ["high"],
                    "min_value": 5.0,
                    "capacity": 7,
                }
            },
        },
        tiers=TIERS,
    )
    assert (config.budget, config.margin, config.control_fraction, config.cooldown_days) == (
        100.0,
        0.4,
        0.1,
        14,
    )
    assert config.catalog == (
        Offer(
            name="x",
            cost=2,
            save_rate=0.3,
            statuses=("scored", "lapsed"),
            stages=("lapsing",),
            tiers=("high",),
            min_value=5.0,
            capacity=7,
        ),
    )


@pytest.mark.parametrize(
    ("policy", "catalog", "match"),
    [
        ({}, {"x": {"cost": -1.0, "save_rate": 0.1}}, r"offers\.catalog\.x\.cost"),
        ({}, {"x": {"cost": float("nan"), "save_rate": 0.1}}, r"offers\.catalog\.x\.cost"),
        ({}, {"x": {"cost": 1.0, "save_rate": 1.5}}, r"offers\.catalog\.x\.save_rate"),
        ({}, {"x": {"cost": 1.0, "save_rate": -0.1}}, r"offers\.catalog\.x\.save_rate"),
        ({}, {"x": {"cost": 1.0, "save_rate": 0.1, "tiers": ["huge"]}}, r"\['huge'\] are not"),
        ({}, {"x": {"cost": 1.0, "save_rate": 0.1, "statuses": ["gone"]}}, r"\.statuses"),
        ({}, {"x": {"cost": 1.0, "save_rate": 0.1, "statuses": []}}, r"\.statuses"),
        ({}, {"x": {"save_rate": 0.1}}, r"expected \['cost'\]"),
        ({}, {"x": {"cost": 1.0}}, r"expected \['save_rate'\]"),
        ({}, {"x": {"cost": 1.0, "save_rate": 0.1, "capacity": -1}}, r"\.capacity"),
        ({}, {"x": {"cost": 1.0, "save_rate": 0.1, "min_value": -1}}, r"\.min_value"),
        ({}, {"x": {"cost": 1.0, "save_rate": 0.1, "colour": "red"}}, r"unknown keys \['colour'\]"),
        ({}, {"x": 3.0}, r"offers\.catalog\.x: expected cost"),
        ({}, {}, r"offers\.catalog: expected named offers"),
        ({}, None, r"offers\.catalog: expected named offers"),
        ({"control_fraction": 1.0}, SIMPLE, r"offers\.control_fraction"),
        ({"control_fraction": -0.1}, SIMPLE, r"offers\.control_fraction"),
        ({"budget": -1.0}, SIMPLE, r"offers\.budget"),
        ({"budget": float("inf")}, SIMPLE, r"offers\.budget"),
        ({"margin": 1.5}, SIMPLE, r"offers\.margin"),
        ({"cooldown_days": -1}, SIMPLE, r"offers\.cooldown_days"),
        ({"bugdet": 10.0}, SIMPLE, r"unknown keys \['bugdet'\]"),
    ],
)
def test_from_mapping_rejects_invalid_config(
    policy: dict[str, Any], catalog: dict[str, Any] | None, match: str
) -> None:
    values: dict[str, Any] = dict(policy)
    if catalog is not None:
        values["catalog"] = catalog
    with pytest.raises(ConfigError, match=match):
        OfferConfig.from_mapping(values, tiers=TIERS)


def test_customer_value_is_margin_on_spend_rate_with_tenure_floor() -> None:
    value = customer_value(
        pd.Series([300.0, 300.0, 300.0, np.nan, -50.0]),
        pd.Series([60, 10, 30, 100, 100]),
        horizon_days=90,
        margin=0.3,
    )
    expected = [0.3 * 90 * 300 / 60, 0.3 * 90 * 300 / 30, 0.3 * 90 * 300 / 30, 0.0, 0.0]
    np.testing.assert_allclose(value.to_numpy(), expected)


def test_eligibility_applies_status_stage_tier_value_and_attribute() -> None:
    customers = _customers(
        [
            {"customer_id": "ok", "risk_tier": "high"},
            {"customer_id": "wrong_tier", "risk_tier": "low"},
            {"customer_id": "wrong_stage", "risk_tier": "high", "lifecycle_stage": "new"},
            {"customer_id": "too_small", "risk_tier": "high", "value": 5.0},
            {"customer_id": "no_attribute", "risk_tier": "high"},
            {
                "customer_id": "lapsed",
                "status": "lapsed",
                "churn_probability": np.nan,
                "risk_tier": None,
            },
            {
                "customer_id": "never_bought",
                "status": "no_purchase",
                "churn_probability": np.nan,
                "risk_tier": None,
                "lifecycle_stage": None,
            },
        ]
    )
    customers[ATTRIBUTE] = ["x", "x", "x", "x", None, "x", "x"]
    offer = Offer(
        name="o",
        cost=1.0,
        save_rate=0.1,
        statuses=("scored",),
        stages=("established",),
        tiers=("high",),
        min_value=10.0,
        requires_attribute=ATTRIBUTE,
    )
    assert eligibility(customers, offer).tolist() == [True] + [False] * 6
    # tiers only apply to scored customers: a lapsed customer has none
    win_back = Offer("w", 1.0, 0.1, statuses=("scored", "lapsed"), tiers=("high",))
    assert eligibility(customers, win_back).tolist() == [True, False, True, True, True, True, False]
    # stages do not apply to sign-ups who never bought (they have none)
    onboarding = Offer("n", 1.0, 0.1, statuses=("no_purchase",), stages=("new",))
    assert eligibility(customers, onboarding).tolist() == [False] * 6 + [True]
    # a required attribute the table lacks makes the offer ineligible for everyone
    assert not eligibility(customers.drop(columns=[ATTRIBUTE]), offer).any()


def test_assign_offers_picks_best_net_benefit_when_budget_ample() -> None:
    customers = _population(3000, seed=1)
    config = _config()
    result = assign_offers(customers, config, seed=0)
    benefits = _benefits(customers, config)
    best = benefits.max(axis=1, skipna=True)
    worth = best > 0
    offered = _offered(result)
    assert worth.sum() > 1000
    # the personal call's capacity does not bind here: everyone worth an offer gets their best
    assert result.counts.get("personal_call", 0) < 300
    pd.testing.assert_series_equal(offered, worth, check_names=False)
    chosen = result.columns["offer"][offered]
    where = benefits.columns.get_indexer(pd.Index(chosen.astype(str)))
    got = benefits.to_numpy()[np.flatnonzero(offered.to_numpy()), where]
    np.testing.assert_allclose(got, best[offered].to_numpy())
    np.testing.assert_allclose(
        result.columns["expected_net_benefit"][offered].to_numpy(), best[offered].to_numpy()
    )
    assert (result.columns.loc[offered, "contact_status"] == "offer").all()
    assert (result.columns.loc[~offered, "contact_status"] == "no_offer").all()
    assert result.budget_used == pytest.approx(result.columns["offer_cost"].sum())
    assert result.counts == result.columns["offer"].value_counts().to_dict()


def test_assign_offers_never_makes_offers_without_positive_net_benefit() -> None:
    customers = _customers(
        [
            {"customer_id": "worth", "churn_probability": 0.9, "value": 100.0},
            {"customer_id": "breaks_even", "churn_probability": 0.2, "value": 50.0},
            {"customer_id": "safe", "churn_probability": 0.01, "value": 100.0},
            {"customer_id": "worthless", "churn_probability": 0.9, "value": 0.0},
        ]
    )
    # email breaks even for the second customer: 0.2 x 50 x 0.1 - 1 = 0
    result = assign_offers(customers, _config(SIMPLE), seed=0)
    assert result.columns["offer"].tolist() == ["call", pd.NA, pd.NA, pd.NA]
    assert result.columns["offer_cost"].tolist() == [10.0, 0.0, 0.0, 0.0]
    assert result.columns["expected_net_benefit"].iloc[0] == pytest.approx(0.9 * 100 * 0.5 - 10)
    assert result.columns["expected_net_benefit"].iloc[1:].isna().all()

    population = _population(2000, seed=2)
    big = assign_offers(population, _config(budget=500.0), seed=0)
    assert (big.columns["expected_net_benefit"][_offered(big)] > 0).all()


@settings(max_examples=5, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    budget=st.floats(0.0, 600.0),
    capacity=st.integers(0, 15),
    strategy=st.sampled_from(offers.STRATEGIES),
)
def test_assign_offers_respects_budget_and_capacity(
    seed: int, budget: float, capacity: int, strategy: str
) -> None:
    catalog = _default_values()["catalog"]
    catalog["personal_call"]["capacity"] = capacity
    catalog["loyalty_reward"]["capacity"] = capacity + 5
    config = _config(catalog, budget=budget, control_fraction=0.05)
    customers = _population(2000, seed=seed)
    result = assign_offers(customers, config, seed=seed, strategy=strategy)
    cols = result.columns
    assert cols["offer_cost"].sum() <= budget + 1e-9
    assert result.budget_used == pytest.approx(cols["offer_cost"].sum())
    assert result.counts.get("personal_call", 0) <= capacity
    assert result.counts.get("loyalty_reward", 0) <= capacity + 5
    assert result.strategy == strategy
    assert cols.index.equals(customers.index)
    offered = _offered(result)
    assert (cols.loc[~offered, "offer_cost"] == 0).all()
    assert not (cols["control_group"] & offered).any()


def test_assign_offers_gives_next_best_when_best_is_full() -> None:
    catalog = {
        "call": {"cost": 10.0, "save_rate": 0.5, "capacity": 1},
        "email": {"cost": 1.0, "save_rate": 0.1},
    }
    customers = _customers(
        [
            {"customer_id": "second", "churn_probability": 0.8},
            {"customer_id": "first", "churn_probability": 0.9},
        ]
    )
    result = assign_offers(customers, _config(catalog), seed=0)
    assert result.columns["offer"].tolist() == ["email", "call"]
    assert result.counts == {"call": 1, "email": 1}
    assert result.columns["expected_net_benefit"].tolist() == pytest.approx(
        [0.8 * 100 * 0.1 - 1, 0.9 * 100 * 0.5 - 10]
    )


def test_assign_offers_gives_cheaper_offer_when_best_exceeds_budget() -> None:
    customers = _customers([{"customer_id": "a", "churn_probability": 1.0}])
    result = assign_offers(customers, _config(SIMPLE, budget=5.0), seed=0)
    assert result.columns["offer"].tolist() == ["email"]
    assert result.budget_used == 1.0
    nothing = assign_offers(customers, _config(SIMPLE, budget=0.5), seed=0)
    assert nothing.columns["offer"].isna().all()
    assert nothing.columns["contact_status"].tolist() == ["budget"]
    assert nothing.budget_used == 0.0


def test_assign_offers_lapsed_and_never_bought_get_only_their_offers() -> None:
    customers = _population(3000, seed=3)
    config = _config()
    result = assign_offers(customers, config, seed=0)
    statuses = {o.name: o.statuses for o in config.catalog}
    offer = result.columns["offer"]
    lapsed = (customers["status"] == "lapsed") & offer.notna()
    never = (customers["status"] == "no_purchase") & offer.notna()
    assert lapsed.sum() > 0
    assert never.sum() > 0
    assert all("lapsed" in statuses[str(n)] for n in offer[lapsed])
    assert set(offer[lapsed]) == {"win_back"}
    assert set(offer[never]) == {"onboarding_nudge"}
    # lapsed customers offered are lapsing ones; every offer made is eligible for its customer
    assert (customers.loc[lapsed, "lifecycle_stage"] == "lapsing").all()
    for o in config.catalog:
        got = (offer == o.name).fillna(False).to_numpy(dtype=bool)
        assert not (got & ~eligibility(customers, o)).any(), o.name


def test_assign_offers_renewal_bonus_only_with_attribute() -> None:
    config = _config()
    customers = _population(3000, seed=4)
    result = assign_offers(customers, config, seed=0)
    renewal = (result.columns["offer"] == "renewal_bonus").fillna(False)
    assert renewal.sum() > 0
    assert customers.loc[renewal, ATTRIBUTE].notna().all()

    without = _population(3000, seed=4, attribute=False)
    assert ATTRIBUTE not in without.columns
    result = assign_offers(without, config, seed=0)
    assert "renewal_bonus" not in set(result.columns["offer"].dropna())
    assert "renewal_bonus" not in result.counts


def test_assign_offers_skips_suppressed_and_cooled() -> None:
    customers = _customers(
        [{"customer_id": cid, "churn_probability": 0.9} for cid in ("a", "b", "c", "d")]
    )
    result = assign_offers(
        customers,
        _config(SIMPLE, control_fraction=0.0),
        seed=0,
        suppressed={"a", "d"},
        cooled=["b", "d"],
    )
    cols = result.columns
    assert cols["offer"].tolist() == [pd.NA, pd.NA, "call", pd.NA]
    assert cols["contact_status"].tolist() == ["suppressed", "cooldown", "offer", "suppressed"]
    assert cols["offer_cost"].tolist() == [0.0, 0.0, 10.0, 0.0]
    assert not cols["control_group"].any()
    assert result.budget_used == 10.0


def test_assign_offers_never_offers_suppressed_in_large_population() -> None:
    customers = _population(2000, seed=5)
    suppressed = set(customers["customer_id"].iloc[::7])
    cooled = set(customers["customer_id"].iloc[3::11])
    for strategy in offers.STRATEGIES:
        result = assign_offers(
            customers,
            _config(control_fraction=0.1),
            seed=0,
            suppressed=suppressed,
            cooled=cooled,
            strategy=strategy,
        )
        blocked = customers["customer_id"].isin(suppressed | cooled)
        assert result.columns.loc[blocked, "offer"].isna().all()
        assert not result.columns.loc[blocked, "control_group"].any()
        status = result.columns["contact_status"]
        in_suppressed = customers["customer_id"].isin(suppressed)
        assert (status[in_suppressed] == "suppressed").all()
        assert (status[blocked & ~in_suppressed] == "cooldown").all()


def _everyone_eligible(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"id{i}" for i in range(n)],
            "status": "scored",
            "churn_probability": rng.uniform(0.5, 1.0, n),
            "risk_tier": "high",
            "lifecycle_stage": "established",
            "value": rng.uniform(50.0, 150.0, n),
        }
    )


def test_assign_offers_control_group_is_share_of_would_be_offered() -> None:
    customers = _everyone_eligible(5000, seed=6)
    result = assign_offers(customers, _config(SIMPLE, control_fraction=0.2), seed=0)
    cols = result.columns
    control = cols["control_group"]
    would_be = control | _offered(result)
    assert would_be.sum() == len(customers)
    assert 0.15 <= control.sum() / would_be.sum() <= 0.25
    assert cols.loc[control, "offer"].isna().all()
    assert (cols.loc[control, "offer_cost"] == 0).all()
    assert cols.loc[control, "expected_net_benefit"].isna().all()
    assert (cols.loc[control, "contact_status"] == "control").all()
    assert cols.loc[control, "control_offer"].notna().all()
    assert cols.loc[~control, "control_offer"].isna().all()
    assert result.budget_used == pytest.approx(10.0 * (~control).sum())


def test_assign_offers_control_group_stable_per_customer_id() -> None:
    customers = _everyone_eligible(2000, seed=7)
    config = _config(SIMPLE, control_fraction=0.2)

    def control_ids(frame: pd.DataFrame, seed: int) -> set[str]:
        result = assign_offers(frame, config, seed=seed)
        return set(frame.loc[result.columns["control_group"], "customer_id"])

    first = control_ids(customers, seed=0)
    shuffled = customers.sample(frac=1.0, random_state=1)
    assert control_ids(shuffled, seed=0) == first
    assert control_ids(shuffled.reset_index(drop=True), seed=0) == first
    assert control_ids(customers, seed=1) != first


def test_assign_offers_control_group_is_drawn_per_campaign() -> None:
    customers = _everyone_eligible(4000, seed=7)
    config = _config(SIMPLE, control_fraction=0.2)

    def control_ids(as_of: str | None) -> set[str]:
        day = None if as_of is None else pd.Timestamp(as_of)
        result = assign_offers(customers, config, seed=0, as_of=day)
        return set(customers.loc[result.columns["control_group"], "customer_id"])

    may, june = control_ids("2024-05-01"), control_ids("2024-06-01")
    assert control_ids("2024-05-01") == may  # the same campaign draws the same customers
    # independent draws: about 0.2 x 0.2 of the customers are held back both months
    both = len(may & june) / len(customers)
    assert 0.025 <= both <= 0.055
    assert 0.15 <= len(june) / len(customers) <= 0.25


def test_assign_offers_control_fraction_per_offer() -> None:
    customers = _everyone_eligible(4000, seed=9)
    catalog = {"call": {"cost": 10.0, "save_rate": 0.5, "control_fraction": 0.5}}
    result = assign_offers(customers, _config(catalog, control_fraction=0.05), seed=0)
    share = result.columns["control_group"].mean()
    assert 0.45 <= share <= 0.55
    with pytest.raises(ConfigError, match=r"offers.catalog.call.control_fraction"):
        _config({"call": {"cost": 1.0, "save_rate": 0.5, "control_fraction": 1.0}})


def test_assign_offers_flags_customers_of_an_open_earlier_campaign() -> None:
    customers = _everyone_eligible(50, seed=10)
    first, second = customers["customer_id"].iloc[:2]
    earlier = {first: "2024-05-01", second: "2024-04-01", "unknown": "2024-05-01"}
    result = assign_offers(
        customers, _config(SIMPLE, control_fraction=0.2), seed=0, earlier=earlier
    )
    flag = result.columns["earlier_campaign"]
    assert flag.dtype == "string"
    assert flag.iloc[:2].tolist() == ["2024-05-01", "2024-04-01"]
    assert flag.iloc[2:].isna().all()  # either arm alike: the flag is not a contact rule
    assert not result.columns["contact_status"].iloc[:2].isin(["cooldown", "suppressed"]).any()


def test_exploration_gives_random_eligible_offers_within_the_budget() -> None:
    customers = _everyone_eligible(6000, seed=11)
    catalog = SIMPLE | {"letter": {"cost": 0.5, "save_rate": 0.0}}  # never worth it to the plan
    config = _config(catalog, control_fraction=0.1, explore_fraction=0.2)
    result = assign_offers(customers, config, seed=0, as_of=pd.Timestamp("2024-06-01"))
    cols = result.columns
    explored = cols["explored"].to_numpy()
    assert 0.17 <= explored.mean() <= 0.23
    assert (cols.loc[explored, "contact_status"] == "explore").all()
    assert not cols.loc[explored, "control_group"].any()
    # uniform among the eligible offers, the one the plan never makes included
    shares = cols.loc[explored, "offer"].value_counts(normalize=True)
    assert set(shares.index) == {"call", "email", "letter"}
    assert (shares - 1 / 3).abs().max() < 0.05
    assert not (cols.loc[~explored, "offer"] == "letter").any()
    probability = cols["assignment_probability"].to_numpy()
    np.testing.assert_allclose(probability[explored], 0.2 / 3)
    control = cols["control_group"].to_numpy()
    np.testing.assert_allclose(probability[control], 0.8 * 0.1)
    planned = cols["offer"].notna().to_numpy() & ~explored
    np.testing.assert_allclose(probability[planned], 0.8 * 0.9)
    assert result.budget_used == pytest.approx(cols["offer_cost"].sum())
    # the explorers' cost comes out of the same budget first
    tight = assign_offers(customers, _config(catalog, budget=100.0, explore_fraction=0.2), seed=0)
    assert tight.budget_used <= 100.0 + 1e-9
    assert tight.columns["explored"].any()
    none = assign_offers(customers, _config(SIMPLE), seed=0)
    assert not none.columns["explored"].any()
    assert (none.columns["assignment_probability"] == 1.0).all()


def test_assign_offers_control_group_share_holds_under_tight_budget() -> None:
    customers = _everyone_eligible(5000, seed=6)
    catalog = {"email": {"cost": 1.0, "save_rate": 0.5}}
    result = assign_offers(customers, _config(catalog, budget=500.0, control_fraction=0.2), seed=0)
    control = int(result.columns["control_group"].sum())
    offered = int(_offered(result).sum())
    # the plan covers 500 customers; the control group's share of it is held back, unspent
    assert offered + control == 500
    assert 0.15 <= control / (control + offered) <= 0.25
    assert result.budget_used == pytest.approx(offered * 1.0)


@pytest.mark.parametrize("strategy", ["highest_risk", "random"])
def test_expected_saved_value_net_benefit_beats_reference_strategies(strategy: str) -> None:
    customers = _population(3000, seed=8)
    truth = customers["churn_probability"].fillna(1.0).to_numpy()
    value = customers["value"].to_numpy()
    for budget in (200.0, 1000.0):
        config = _config(budget=budget, control_fraction=0.0)
        plan = assign_offers(customers, config, seed=0)
        reference = assign_offers(customers, config, seed=0, strategy=strategy)
        assert reference.budget_used <= budget + 1e-9
        ours = offers.expected_saved_value(plan, truth, value, config)
        theirs = offers.expected_saved_value(reference, truth, value, config)
        assert ours > 0
        assert ours >= theirs


def test_expected_saved_value_sums_net_benefit_of_offered() -> None:
    customers = _customers(
        [
            {"customer_id": "a", "churn_probability": 0.9},
            {"customer_id": "b", "churn_probability": 0.8},
            {"customer_id": "c", "churn_probability": 0.01},
        ]
    )
    config = _config(SIMPLE)
    plan = assign_offers(customers, config, seed=0)
    assert plan.columns["offer"].tolist() == ["call", "call", pd.NA]
    truth = np.array([0.5, 0.1, 1.0])
    value = customers["value"].to_numpy()
    expected = (0.5 * 100 * 0.5 - 10) + (0.1 * 100 * 0.5 - 10)
    assert offers.expected_saved_value(plan, truth, value, config) == pytest.approx(expected)


def test_assign_offers_rejects_unknown_strategy() -> None:
    customers = _customers([{"customer_id": "a"}])
    with pytest.raises(ConfigError, match=r"strategy must be one of"):
        assign_offers(customers, _config(SIMPLE), seed=0, strategy="biggest_first")
