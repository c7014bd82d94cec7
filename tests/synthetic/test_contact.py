"""What-if contacts: the true effect of any offer on any customer, without moving the world."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn import synthetic
from churn.errors import DataError
from churn.synthetic.campaign import simulate_campaigns
from churn.synthetic.contact import offer_effects
from churn.synthetic.effects import CampaignConfig
from churn.synthetic.state import load_world
from tests.synthetic.helpers import write_export

END = "2026-01-01"
CONFIG = CampaignConfig.from_mapping(
    {"effects": {"default": {"persuadable_share": 0.5, "rescue_probability": 0.6}}}
)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory, world: synthetic.WorldConfig) -> Path:
    out = tmp_path_factory.mktemp("contact") / "demo"
    synthetic.save(synthetic.generate(world, n_customers=1_500, seed=6), out, seed=6)
    return out


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _buyers(folder: Path) -> pd.Series:
    truth = pd.read_parquet(folder / "ground_truth.parquet")
    return truth.loc[~truth["never_purchased"], "customer_id"].astype(str).head(600)


def test_offer_effects_equal_the_oracle_of_the_campaign_that_makes_the_contacts(
    world_dir: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(world_dir, tmp_path / "demo"))
    ids = _buyers(folder)
    before = _digests(folder)
    asked = offer_effects(
        load_world(folder),
        pd.Timestamp(END),
        90,
        pd.DataFrame({"customer_id": ids, "offer": "discount_voucher"}),
        CONFIG,
        seed=3,
    )
    assert _digests(folder) == before  # nothing written
    plan = pd.DataFrame(
        {"customer_id": ids, "contact_status": "offer", "offer": "discount_voucher"}
    )
    write_export(tmp_path / "exports", END, plan)
    simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=90, seed=3)
    oracle = pd.read_parquet(folder / "campaigns" / END / "oracle.parquet")
    merged = asked.merge(oracle, on="customer_id", suffixes=("", "_oracle"))
    assert len(merged) == len(ids)
    for column in ("churned_without_offer", "churned_with_offer", "response"):
        assert (merged[column] == merged[f"{column}_oracle"]).all(), column
    saved = merged["churned_without_offer"] & ~merged["churned_with_offer"]
    assert saved.any()


def test_offer_effects_of_several_offers_per_customer(world_dir: Path) -> None:
    state = load_world(world_dir)
    ids = _buyers(world_dir).head(200)
    pairs = pd.concat(
        [pd.DataFrame({"customer_id": ids, "offer": o}) for o in ("personal_call", "win_back")]
    )
    out = offer_effects(state, pd.Timestamp(END), 90, pairs, CONFIG)
    assert len(out) == 400
    assert set(out["offer"]) == {"personal_call", "win_back"}
    # the outcome without an offer does not depend on the offer asked about
    wide = out.pivot(index="customer_id", columns="offer", values="churned_without_offer")
    assert np.array_equal(wide["personal_call"], wide["win_back"])


def test_offer_effects_window_past_the_simulated_period_is_refused(world_dir: Path) -> None:
    state = load_world(world_dir)
    pairs = pd.DataFrame({"customer_id": ["x"], "offer": "win_back"})
    with pytest.raises(DataError, match="reaches past the world's simulated period"):
        offer_effects(state, pd.Timestamp(END), 400, pairs, CONFIG)
    with pytest.raises(DataError, match="customers not in the world"):
        offer_effects(state, pd.Timestamp(END), 90, pairs, CONFIG)
