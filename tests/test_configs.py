"""Every primary config and every group option composes and resolves."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from churn import synthetic
from tests.conftest import CONF_DIR, compose_config

PRIMARY = sorted(p.stem for p in CONF_DIR.glob("*.yaml"))
GROUP_OPTIONS = sorted(
    (group.name, option.stem)
    for group in CONF_DIR.iterdir()
    if group.is_dir() and not group.name.startswith("_")
    for option in group.glob("*.yaml")
)
# Values that must be given on the command line (marked ??? in the config) or come from Hydra.
REQUIRED = {
    "data.path": "some/where.parquet",
    "output_dir": "out",
    "tracking.uri": "http://127.0.0.1:5000",
}


def _overrides(cfg_keys: set[str]) -> list[str]:
    return [f"{k}={v}" for k, v in REQUIRED.items() if k.split(".")[0] in cfg_keys]


def test_primary_configs_found() -> None:
    assert {"generate", "validate", "training_table", "train", "score", "report"} <= set(PRIMARY)


@pytest.mark.parametrize("name", PRIMARY)
def test_primary_config_composes(name: str) -> None:
    keys = set(compose_config(name).keys())
    cfg = compose_config(name, _overrides(keys))
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert isinstance(cfg.seed, int)


# How each config group is selected: the primary config that uses it and its override.
GROUP_USE = {
    "data": ("validate", "data={option}"),
    "world": ("generate", "world={option}"),
    "label": ("training_table", "label={option}"),
    "features": ("training_table", "features={option}"),
    "engine": ("training_table", "engine={option}"),
    "model": ("train", "model={option}"),
    "calibration": ("train", "calibration={option}"),
    "tracking": ("train", "tracking={option}"),
    "tiers": ("score", "tiers={option}"),
    "offers": ("score", "offers={option}"),
    "export": ("score", "export={option}"),
}


def test_every_group_has_a_use() -> None:
    assert {group for group, _ in GROUP_OPTIONS} == set(GROUP_USE)


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS)
def test_group_option_composes(group: str, option: str) -> None:
    name, template = GROUP_USE[group]
    keys = set(compose_config(name).keys())
    cfg = compose_config(name, [template.format(option=option), *_overrides(keys)])
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


@pytest.mark.parametrize("option", ["csv", "parquet", "duckdb"])
def test_data_option_requires_path(option: str) -> None:
    cfg = compose_config("validate", [f"data={option}", "output_dir=out"])
    assert OmegaConf.is_missing(cfg.data, "path")


@pytest.mark.parametrize("option", ["demo", "csv", "parquet", "duckdb"])
def test_data_option_has_safe_bounds(option: str) -> None:
    cfg = compose_config("validate", [f"data={option}", "output_dir=out"])
    assert cfg.data.min_timestamp == "1970-01-01"
    assert cfg.data.max_abs_amount == 1e9
    assert list(cfg.data.nps_range) == [0, 10]
    assert cfg.data.id_normalization == "none"


def test_data_bounds_can_be_overridden_on_the_command_line() -> None:
    overrides = [
        "data.max_abs_amount=1e12",
        "data.min_timestamp=2000-01-01",
        "data.nps_range=[1,10]",
        "data.id_normalization=strip_numeric_suffix",
        "output_dir=out",
    ]
    cfg = compose_config("validate", overrides)
    assert cfg.data.max_abs_amount == 1e12
    assert cfg.data.min_timestamp == "2000-01-01"
    assert list(cfg.data.nps_range) == [1, 10]
    assert cfg.data.id_normalization == "strip_numeric_suffix"


def test_data_demo_points_into_generate_folder() -> None:
    cfg = compose_config("validate", ["data.generate.output_dir=elsewhere", "output_dir=out"])
    assert cfg.data.path == "elsewhere/transactions.parquet"
    assert cfg.data.events == "elsewhere/events.parquet"


def test_world_demo_is_a_valid_world() -> None:
    cfg = compose_config("generate")
    values = OmegaConf.to_container(cfg.generate.world, resolve=True)
    params = synthetic.WorldConfig.from_mapping(values)  # type: ignore[arg-type]
    params.validate()


def test_label_and_feature_configs_build() -> None:
    from churn.features import FeatureConfig
    from churn.labels import LabelConfig

    cfg = compose_config("training_table", ["output_dir=out"])
    LabelConfig.from_mapping(OmegaConf.to_container(cfg.label, resolve=True))  # type: ignore[arg-type]
    features = FeatureConfig.from_mapping(OmegaConf.to_container(cfg.features))  # type: ignore[arg-type]
    assert features.windows == (30, 90, 180, 365)


def test_train_config_builds_every_part() -> None:
    from churn import promotion, tracking
    from churn.calibration import validate_method
    from churn.model import ModelConfig

    cfg = compose_config("train", ["output_dir=out"])
    model = ModelConfig.from_mapping(OmegaConf.to_container(cfg.model))  # type: ignore[arg-type]
    assert model.tuning.n_trials == 0
    assert set(model.tuning.space) >= {"learning_rate", "num_leaves"}
    assert validate_method(cfg.calibration.method) == "isotonic"
    track = tracking.TrackingConfig.from_mapping(OmegaConf.to_container(cfg.tracking))  # type: ignore[arg-type]
    assert track.uri == "sqlite:///mlflow.db"
    policy = promotion.PromotionConfig.from_mapping(OmegaConf.to_container(cfg.promotion))  # type: ignore[arg-type]
    assert policy.metrics == ("roc_auc", "brier")
    assert cfg.model_dir == "models/churn"


@pytest.mark.parametrize(("option", "enabled"), [("none", False), ("server", True)])
def test_tracking_options_extend_sqlite(option: str, enabled: bool) -> None:
    cfg = compose_config("train", [f"tracking={option}", "output_dir=out", "tracking.uri=x"])
    assert cfg.tracking.enabled is enabled
    assert cfg.tracking.registered_model == "churn"
    if option == "server":
        assert OmegaConf.is_missing(compose_config("train", ["tracking=server"]).tracking, "uri")


@pytest.mark.parametrize("tiers", ["default", "quantiles"])
def test_score_config_builds_tiers_and_offers(tiers: str) -> None:
    from churn import offers, scoring

    cfg = compose_config("score", [f"tiers={tiers}", "output_dir=out"])
    tier_config = scoring.TierConfig.from_mapping(OmegaConf.to_container(cfg.tiers))  # type: ignore[arg-type]
    catalog = offers.OfferConfig.from_mapping(
        OmegaConf.to_container(cfg.offers),  # type: ignore[arg-type]
        tiers=tier_config.names,
    )
    names = {offer.name for offer in catalog.catalog}
    assert len(names) >= 6
    assert {"onboarding_nudge", "win_back", "personal_call", "renewal_bonus"} <= names
    assert cfg.source == "bundle"
    assert cfg.registry.alias == "champion"
