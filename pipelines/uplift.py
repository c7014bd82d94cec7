"""Train the uplift model from past campaigns: ``python -m pipelines.uplift`` (docs/uplift.md).

Loads the data, reads the exports whose outcome window has passed, takes their randomised
customers with the churn model's features at each as-of date, evaluates the learner out of time
against risk targeting, refits it on every campaign and stores it in ``uplift.model_dir``
(champion only when it passed the gate), with one MLflow run per stored version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from churn import outcomes, tracking, uplift
from churn.bundle import read_served_manifest
from churn.errors import TrackingError
from churn.offers import OfferConfig
from pipelines.cli import launch, run_main
from pipelines.common import container, load_data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpliftResult:
    """What the training gave: the status, the gate's reason, the stored version, the run."""

    status: str
    reason: str
    version: int | None = None
    passed: bool = False
    run_id: str | None = None


def run(cfg: DictConfig) -> UpliftResult:
    """Train, evaluate, gate and store the uplift model (or say why there is none)."""
    settings = uplift.UpliftConfig.from_mapping(container(cfg.uplift))
    offers = OfferConfig.from_mapping(container(cfg.offers), tiers=list(cfg.tiers.names))
    tracking_config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
    _, manifest = read_served_manifest(str(cfg.model_dir))
    dataset = load_data(cfg.data, seed=int(cfg.seed), output_dir=Path(cfg.output_dir))
    observed = outcomes.observe(
        dataset,
        container(cfg.engine),
        end_date=cfg.data.get("end_date"),
        purchase_rule=manifest.training.label.purchase_rule,
    )
    due = outcomes.due_exports(str(cfg.export.dir), observed.end)
    campaigns = uplift.campaign_history(
        due,
        observed,
        manifest.training.features,
        features=settings.features,
        margin=offers.margin,
    )
    churn_model = {
        "version": manifest.version,
        "horizon_days": manifest.horizon_days,
        "features": manifest.training.features.to_dict(),
    }
    trained = uplift.train_uplift(
        campaigns, settings, offers.catalog, seed=int(cfg.seed), churn_model=churn_model
    )
    version = uplift.store_uplift(trained, settings)
    run_id = None
    if version is not None and trained.evaluation is not None:
        run_id = _track(cfg, tracking_config, version, trained.evaluation.metrics(), settings)
    log.info("uplift: %s (%s)", trained.status, trained.reason)
    return UpliftResult(trained.status, trained.reason, version, trained.passed, run_id)


def _track(
    cfg: DictConfig,
    config: tracking.TrackingConfig,
    version: int,
    metrics: dict[str, float],
    settings: uplift.UpliftConfig,
) -> str | None:
    """Log the stored version when tracking is on; ``tracking.on_error`` decides failures."""
    if not config.enabled:
        return None
    folder = uplift.UpliftStore(settings.model_dir).path(version)
    try:
        return tracking.log_uplift(
            config,
            version=version,
            params=tracking.flatten(container(cfg.uplift)),
            config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
            metrics=metrics,
            artifacts=folder,
        )
    except TrackingError as err:
        if config.on_error == "fail":
            raise
        log.warning("%s; the model is stored in %s", err, folder)
        return None


@hydra.main(version_base="1.3", config_path="../conf", config_name="uplift")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "uplift")
