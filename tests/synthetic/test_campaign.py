"""The campaign simulator: offer effects on the leaving hazard, the moved world, the oracle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn import synthetic
from churn.errors import ConfigError, DataError
from churn.synthetic import uplift
from churn.synthetic.campaign import simulate_campaigns
from churn.synthetic.effects import (
    CampaignConfig,
    Windows,
    modified_hazard,
    persuadability,
    respond,
    solve_fade_start,
)
from tests.synthetic.helpers import write_export

END = "2026-01-01"
STRONG = {
    "persuadable_share": 0.5,
    "hazard_multiplier": 0.3,
    "effect_days": 90,
    "rescue_probability": 0.6,
    "put_off_share": 0.1,
    "put_off_multiplier": 2.0,
}
CONFIG = CampaignConfig.from_mapping({"effects": {"default": STRONG}})


@pytest.fixture(scope="module")
def base_world(tmp_path_factory: pytest.TempPathFactory, world: synthetic.WorldConfig) -> Path:
    """A generated world of 2,500 customers, written once."""
    out = tmp_path_factory.mktemp("campaign") / "demo"
    synthetic.save(synthetic.generate(world, n_customers=2_500, seed=4), out, seed=4)
    return out


@pytest.fixture(scope="module")
def large_world(tmp_path_factory: pytest.TempPathFactory, world: synthetic.WorldConfig) -> Path:
    """A generated world of 20,000 customers: enough customers fading at the data end."""
    out = tmp_path_factory.mktemp("campaign-large") / "demo"
    synthetic.save(synthetic.generate(world, n_customers=20_000, seed=4), out, seed=4)
    return out


@pytest.fixture
def folder(base_world: Path, tmp_path: Path) -> Path:
    """A fresh copy of the base world for one test."""
    return Path(shutil.copytree(base_world, tmp_path / "demo"))


def _alive_at(folder: Path, date: str) -> pd.Series:
    truth = pd.read_parquet(folder / "ground_truth.parquet")
    stamp = pd.Timestamp(date)
    alive = ~truth["never_purchased"] & (truth["acquired_at"] < stamp)
    alive &= truth["dropout_date"].isna() | (truth["dropout_date"] > stamp)
    return truth.loc[alive, "customer_id"].astype(str)


def _plan(
    ids: pd.Series, *, control_every: int = 10, offer: str = "discount_voucher"
) -> pd.DataFrame:
    status = np.where(np.arange(len(ids)) % control_every == 0, "control", "offer")
    return pd.DataFrame({"customer_id": ids.to_numpy(), "contact_status": status, "offer": offer})


def _timeline(folder: Path, name: str = "transactions") -> pa.Table:
    return pa.concat_tables(
        [
            pq.read_table(folder / f"{name}.parquet"),
            pq.read_table(folder / "future" / f"{name}.parquet"),
        ]
    )


def _traits(n: int, *, fade_start: np.ndarray, dropout: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "acquired": np.full(n, 100.0),
        "hazard": np.full(n, 0.002),
        "fade_start": fade_start,
        "fade_days": np.subtract(
            dropout, fade_start, out=np.zeros(n), where=np.isfinite(fade_start)
        ),
        "dropout": dropout,
        "never_purchased": np.zeros(n, dtype=bool),
    }


def _respond(world: synthetic.WorldConfig, traits: dict[str, np.ndarray], config: CampaignConfig):
    n = traits["acquired"].size
    ids = np.array([f"C{i:06d}" for i in range(n)])
    empty = Windows(np.zeros((n, 0)), np.zeros((n, 0)), np.ones((n, 0)))
    offers = np.full(n, "discount_voucher")
    response = respond(
        world,
        traits,
        empty,
        a=1000.0,
        offers=offers,
        customer_ids=ids,
        config=config,
        seed=0,
        stream=(1,),
    )
    return response, persuadability(ids, seed=0)


def test_respond_moves_persuadable_later_and_put_off_earlier(world: synthetic.WorldConfig) -> None:
    fade = 1000.0 + np.linspace(5, 80, 400)
    response, u = _respond(world, _traits(400, fade_start=fade, dropout=fade + 30), CONFIG)
    persuadable, put_off = u < 0.5, u >= 0.9
    assert (response.fade_start[persuadable] > fade[persuadable] + 1).all()
    assert (response.fade_start[put_off] < fade[put_off] - 1).all()
    others = ~persuadable & ~put_off
    assert others.any()
    assert (response.fade_start[others] == fade[others]).all()
    assert np.allclose(response.dropout - response.fade_start, 30)  # the fade keeps its length


def test_respond_leaves_sure_things_and_lost_causes(world: synthetic.WorldConfig) -> None:
    never = np.full(200, np.inf)  # fade start beyond the simulated period: stays there
    response, u = _respond(world, _traits(200, fade_start=never, dropout=never), CONFIG)
    assert np.isinf(response.fade_start[u < 0.5]).all()
    assert not response.changed[u < 0.5].any()
    fading = np.full(200, 990.0)  # already fading at the as-of date
    no_rescue = CampaignConfig.from_mapping(
        {"effects": {"default": {**STRONG, "rescue_probability": 0}}}
    )
    response, _ = _respond(world, _traits(200, fade_start=fading, dropout=fading + 60), no_rescue)
    assert not response.changed.any()
    always = CampaignConfig.from_mapping(
        {"effects": {"default": {**STRONG, "rescue_probability": 1}}}
    )
    response, u = _respond(world, _traits(200, fade_start=fading, dropout=fading + 60), always)
    assert (response.changed == (u < 0.5)).all()
    assert (response.fade_start[u < 0.5] > 1000).all()


def test_solve_fade_start_inverts_overlapping_windows(world: synthetic.WorldConfig) -> None:
    traits = _traits(3, fade_start=np.zeros(3), dropout=np.zeros(3))
    a = np.full(3, 1000.0)
    windows = Windows(
        np.array([[1000.0, 1005.0]] * 3),
        np.array([[1010.0, 1015.0]] * 3),
        np.array([[0.5, 0.5]] * 3),
    )
    grid = np.linspace(1000, 1030, 300_001)
    factor = np.where((grid >= 1000) & (grid < 1010), 0.5, 1.0) * np.where(
        (grid >= 1005) & (grid < 1015), 0.5, 1.0
    )
    numeric = np.sum(factor[:-1] * 0.002 * (1 + 8 * np.exp(-(grid[:-1] - 100) / 30))) * 1e-4
    exact = modified_hazard(world, traits, windows, a[:1], np.array([1030.0]))
    assert exact[0] == pytest.approx(numeric, rel=1e-4)
    target = np.array([0.005, 0.01, 0.04])
    solved = solve_fade_start(world, traits, windows, a, target)
    assert np.allclose(modified_hazard(world, traits, windows, a, solved), target, rtol=1e-9)


def test_no_plan_moves_to_the_base_world_future_bit_for_bit(folder: Path, tmp_path: Path) -> None:
    before = {name: _timeline(folder, name) for name in ("transactions", "events")}
    observed = pq.read_table(folder / "transactions.parquet")
    result = simulate_campaigns(folder, tmp_path / "none", CONFIG, days=30)
    assert result.applied == ()
    assert str(result.data_end.date()) == "2026-01-31"
    for name, table in before.items():
        assert _timeline(folder, name).equals(table)
    moved = pq.read_table(folder / "transactions.parquet")
    assert moved.slice(0, observed.num_rows).equals(observed)
    assert moved["timestamp"].to_pandas().max() < pd.Timestamp("2026-01-31")
    assert pq.read_table(folder / "future" / "transactions.parquet")[
        "timestamp"
    ].to_pandas().min() >= pd.Timestamp("2026-01-31")
    world = json.loads((folder / "world.json").read_text())
    assert world["data_end"] == "2026-01-31"
    assert world["campaigns"] == []


def test_campaign_keeps_history_before_as_of_and_other_customers(
    folder: Path, tmp_path: Path
) -> None:
    as_of = "2025-12-20"  # scored before the data end: fine
    ids = _alive_at(folder, as_of)
    write_export(tmp_path / "exports", as_of, _plan(ids))
    before = _timeline(folder).to_pandas()
    result = simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=30)
    assert result.applied == (as_of,)
    assert result.changed_customers > 50
    after = _timeline(folder).to_pandas()
    cut = pd.Timestamp(as_of)

    def rows(frame: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
        frame = frame[keep].sort_values(["customer_id", "timestamp", "transaction_id"])
        return frame.reset_index(drop=True)

    pd.testing.assert_frame_equal(
        rows(before, before["timestamp"] < cut), rows(after, after["timestamp"] < cut)
    )
    untouched = ~before["customer_id"].isin(set(ids))
    kept = ~after["customer_id"].isin(set(ids))
    pd.testing.assert_frame_equal(rows(before, untouched), rows(after, kept))
    assert after["transaction_id"].is_unique


def test_campaign_updates_truth_of_contacted_customers_only(
    folder: Path, base_world: Path, tmp_path: Path
) -> None:
    ids = _alive_at(folder, END)
    write_export(tmp_path / "exports", END, _plan(ids))
    result = simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=30)
    old = pd.read_parquet(base_world / "ground_truth.parquet")
    new = pd.read_parquet(folder / "ground_truth.parquet")
    moved = (old["fade_start"] != new["fade_start"]) & ~(
        old["fade_start"].isna() & new["fade_start"].isna()
    )
    offered = set(ids[np.arange(len(ids)) % 10 != 0])
    assert moved.sum() == result.changed_customers > 0
    assert set(new.loc[moved, "customer_id"]) <= offered
    new_start, old_start = new.loc[moved, "fade_start"], old.loc[moved, "fade_start"]
    later = new_start.isna() | (new_start > old_start)
    assert later.mean() > 0.7  # most of the changed are persuaded; a few are put off
    dropout = new.loc[moved].set_index("customer_id")["dropout_date"].dropna()
    for name in ("transactions", "events"):
        rows = _timeline(folder, name).to_pandas()
        rows = rows[rows["customer_id"].isin(dropout.index)]
        if name == "transactions":
            rows = rows[rows["amount"] > 0]  # refunds may follow a last purchase
        late = rows["timestamp"] >= dropout.reindex(rows["customer_id"]).to_numpy()
        assert not late.any(), name


def test_campaign_is_deterministic(base_world: Path, tmp_path: Path) -> None:
    worlds = [Path(shutil.copytree(base_world, tmp_path / f"w{i}" / "demo")) for i in range(2)]
    ids = _alive_at(worlds[0], END)
    write_export(tmp_path / "exports", END, _plan(ids))
    for world in worlds:
        simulate_campaigns(world, tmp_path / "exports", CONFIG, days=30)
    for name in (
        "transactions.parquet",
        "events.parquet",
        "future/transactions.parquet",
        "ground_truth.parquet",
        "campaigns/2026-01-01/oracle.parquet",
    ):
        assert pq.read_table(worlds[0] / name).equals(pq.read_table(worlds[1] / name)), name
    assert (worlds[0] / "campaigns.json").read_text() == (worlds[1] / "campaigns.json").read_text()


def test_campaign_applies_an_export_once(folder: Path, tmp_path: Path) -> None:
    write_export(tmp_path / "exports", END, _plan(_alive_at(folder, END)))
    simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=30)
    truth = pd.read_parquet(folder / "ground_truth.parquet")
    second = simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=30)
    assert second.applied == ()
    assert second.changed_customers == 0
    pd.testing.assert_frame_equal(truth, pd.read_parquet(folder / "ground_truth.parquet"))
    listing = json.loads((folder / "campaigns.json").read_text())["campaigns"]
    assert [c["as_of"] for c in listing] == [END]
    assert listing[0]["applied_on"] == END
    manifest = tmp_path / "exports" / END / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"version": 1', '"version": 2'))
    with pytest.raises(DataError, match="re-scored after it was applied"):
        simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=30)


def test_two_campaigns_with_overlapping_windows(folder: Path, tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    ids = _alive_at(folder, END)
    write_export(exports, END, _plan(ids, control_every=1_000_000))
    simulate_campaigns(folder, exports, CONFIG, days=30)
    first = pd.read_parquet(folder / "ground_truth.parquet").set_index("customer_id")
    before = _timeline(folder).to_pandas()
    second_as_of = "2026-01-31"
    again = _alive_at(folder, second_as_of)
    write_export(exports, second_as_of, _plan(again, control_every=1_000_000))
    result = simulate_campaigns(folder, exports, CONFIG, days=30)
    assert result.applied == (second_as_of,)
    assert result.changed_customers > 0
    windows = pd.read_parquet(folder / "campaigns" / "effects.parquet")
    twice = windows.groupby("customer_id")["as_of"].nunique()
    assert (twice == 2).sum() > 100  # persuaded in January, still in the window in February
    assert windows["end"].gt(windows["start"]).all()
    after = _timeline(folder).to_pandas()
    cut = pd.Timestamp(second_as_of)
    old = before[before["timestamp"] < cut].sort_values("transaction_id").reset_index(drop=True)
    new = after[after["timestamp"] < cut].sort_values("transaction_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(old, new)
    second = pd.read_parquet(folder / "ground_truth.parquet").set_index("customer_id")
    both = twice.index[twice == 2]
    persuaded = persuadability(both.to_numpy(), seed=4) < 0.5
    start_1 = first.loc[both[persuaded], "fade_start"]
    start_2 = second.loc[both[persuaded], "fade_start"]
    assert (start_2.isna() | (start_2 >= start_1)).all()
    for as_of in (END, second_as_of):
        assert (folder / "campaigns" / as_of / "oracle.parquet").is_file()


def test_respond_rescues_fading_persuadable_customers_at_the_configured_rate(
    world: synthetic.WorldConfig,
) -> None:
    n = 4_000
    fading = 990.0 + np.linspace(0, 9, n)
    response, u = _respond(world, _traits(n, fade_start=fading, dropout=fading + 60), CONFIG)
    persuadable = u < 0.5
    rescued = response.changed[persuadable].mean()
    sd = np.sqrt(0.6 * 0.4 / persuadable.sum())
    assert abs(rescued - 0.6) < 4 * sd
    assert not response.changed[~persuadable].any()
    assert abs(persuadable.mean() - 0.5) < 4 * np.sqrt(0.25 / n)


def test_respond_wins_back_the_lately_gone_only_within_reactivation_days(
    world: synthetic.WorldConfig,
) -> None:
    n = 4_000
    gone = np.where(np.arange(n) % 2 == 0, 970.0, 900.0)  # 30 or 100 days before a = 1000
    traits = _traits(n, fade_start=gone - 40, dropout=gone)
    stay_gone, _ = _respond(world, traits, CONFIG)
    assert not stay_gone.changed.any()  # reactivation_days 0: the gone stay gone
    back = CampaignConfig.from_mapping(
        {"effects": {"default": {**STRONG, "reactivation_days": 60}}}
    )
    response, u = _respond(world, traits, back)
    recent = gone == 970.0
    assert not response.changed[~recent].any()  # gone 100 days: beyond 60
    won = response.changed[recent & (u < 0.5)].mean()
    assert abs(won - 0.6) < 4 * np.sqrt(0.6 * 0.4 / (recent & (u < 0.5)).sum())
    assert not response.changed[recent & (u >= 0.5)].any()
    assert (response.fade_start[response.changed] > 1000).all()
    assert (response.dropout[response.changed] > 1000).all()


def test_oracle_saves_persuadable_churners_at_the_rescue_rate(
    large_world: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(large_world, tmp_path / "demo"))
    truth = pd.read_parquet(folder / "ground_truth.parquet")
    end = pd.Timestamp(END)
    fading = (
        (truth["fade_start"] <= end) & (truth["dropout_date"] > end) & (truth["acquired_at"] < end)
    )
    alive = _alive_at(folder, END)
    write_export(tmp_path / "exports", END, _plan(alive, control_every=4))
    simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=30)
    oracle = pd.read_parquet(folder / "campaigns" / END / "oracle.parquet")
    assert set(oracle.columns) >= {
        "customer_id",
        "offer",
        "arm",
        "churned_without_offer",
        "churned_with_offer",
        "response",
    }
    assert len(oracle) == len(alive) > 2_000 * 0.3
    assert set(oracle["response"]) <= set(uplift.RESPONSES)
    oracle["persuadable_latent"] = persuadability(oracle["customer_id"].to_numpy(), seed=4) < 0.5
    oracle["fading"] = oracle["customer_id"].isin(set(truth.loc[fading, "customer_id"]))
    unaffected = oracle["response"] == "unaffected"
    assert (
        oracle.loc[unaffected, "churned_with_offer"]
        == oracle.loc[unaffected, "churned_without_offer"]
    ).all()
    # Fading persuadable customers who would churn: saved when the offer rescues them.
    group = oracle[
        oracle["fading"] & oracle["persuadable_latent"] & oracle["churned_without_offer"]
    ]
    assert len(group) > 100
    saved = (~group["churned_with_offer"]).mean()
    sd = np.sqrt(0.6 * 0.4 / len(group))
    assert 0.6 - 4 * sd - 0.1 < saved < 0.6 + 4 * sd  # a rescued few still drift away unbought
    # Not persuadable, not put off: the offer changes nothing.
    put_off = persuadability(oracle["customer_id"].to_numpy(), seed=4) >= 0.9
    neither = oracle[~oracle["persuadable_latent"] & ~put_off]
    assert (neither["churned_with_offer"] == neither["churned_without_offer"]).all()
    control = oracle[oracle["arm"] == "control"]
    assert (control["churned_with_offer"] != control["churned_without_offer"]).any()
    itt = oracle.groupby("arm")[["churned_without_offer", "churned_with_offer"]].mean()
    assert (itt["churned_with_offer"] < itt["churned_without_offer"]).all()


def test_oracle_follows_its_window_until_complete(folder: Path, tmp_path: Path) -> None:
    write_export(tmp_path / "exports", END, _plan(_alive_at(folder, END)), horizon_days=60)
    info_file = folder / "campaigns" / END / "oracle.json"
    simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=30)
    info = json.loads(info_file.read_text())
    assert info["simulated_until"] == "2026-01-31"
    assert not info["complete"]
    assert info["window_end"] == "2026-03-02"
    simulate_campaigns(folder, tmp_path / "exports", CONFIG, days=40)
    info = json.loads(info_file.read_text())
    assert info["simulated_until"] == "2026-03-02"
    assert info["complete"]


def test_simulate_campaigns_refuses_bad_input(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"days: expected a whole number of days in \[1, 180\].*got 0"
    ):
        simulate_campaigns(folder, tmp_path / "none", CONFIG, days=0)
    with pytest.raises(ConfigError, match="got 181"):
        simulate_campaigns(folder, tmp_path / "none", CONFIG, days=181)
    with pytest.raises(DataError, match="expected a generated world folder"):
        simulate_campaigns(tmp_path / "nothing", tmp_path / "none", CONFIG, days=30)
    write_export(tmp_path / "late", "2026-01-15", _plan(_alive_at(folder, END)))
    with pytest.raises(
        DataError,
        match="dated after the world's data end; expected as_of <= 2026-01-01; got 2026-01-15",
    ):
        simulate_campaigns(folder, tmp_path / "late", CONFIG, days=30)
    stranger = pd.DataFrame(
        {"customer_id": ["X1"], "contact_status": ["offer"], "offer": ["win_back"]}
    )
    write_export(tmp_path / "stranger", END, stranger)
    with pytest.raises(DataError, match="not in the world"):
        simulate_campaigns(folder, tmp_path / "stranger", CONFIG, days=30)


@pytest.mark.parametrize(
    ("effects", "message"),
    [
        ({"win_back": STRONG}, "with a 'default' entry"),
        (
            {"default": {**STRONG, "persuadable_share": 1.5}},
            r"default.persuadable_share: expected a probability",
        ),
        (
            {"default": {**STRONG, "hazard_multiplier": 1.2}},
            r"hazard_multiplier: expected a factor in \(0, 1\]",
        ),
        ({"default": {**STRONG, "put_off_multiplier": 0.5}}, "put_off_multiplier: expected >= 1"),
        (
            {"default": {**STRONG, "effect_days": 0}},
            "effect_days: expected a whole number >= 1; got 0",
        ),
        ({"default": {**STRONG, "put_off_share": 0.6}}, "must be at most 1"),
        (
            {"default": {**STRONG, "strength": 1}},
            r"campaign.effects.default: unknown keys \['strength'\]",
        ),
        ({"default": {**STRONG, "effect_days": "abc"}}, "effect_days: expected a whole number"),
    ],
)
def test_campaign_config_refuses_bad_effects(effects: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CampaignConfig.from_mapping({"effects": effects})


def test_campaign_config_default_for_unknown_offers() -> None:
    config = CampaignConfig.from_mapping({"effects": {"default": STRONG, "win_back": {}}})
    assert config.effect("win_back").persuadable_share == 0.2
    assert config.effect("something_else").hazard_multiplier == 0.3
    assert CampaignConfig.from_mapping(config.to_dict()) == config
