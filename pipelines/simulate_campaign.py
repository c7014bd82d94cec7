"""Move a demo world forward under its exports' plans: ``python -m pipelines.simulate_campaign``.

``[world=demo] [days=30] [seed=0]``: applies the exports of the world's export folder that are
not yet applied (contacted customers respond to their offers), writes each one's true uplift to
``data/<name>/campaigns/<as_of>/`` and moves the data end forward by ``days`` (docs/campaigns.md).
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from churn.synthetic.campaign import CampaignResult, simulate_campaigns
from churn.synthetic.effects import CampaignConfig
from pipelines.cli import launch, run_main
from pipelines.common import container

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> CampaignResult:
    """Apply the pending exports to the world folder and move its data end forward."""
    result = simulate_campaigns(
        cfg.data_dir,
        cfg.export_dir,
        CampaignConfig.from_mapping(container(cfg.campaign)),
        days=cfg.days,
        seed=int(cfg.seed),
        exit_reasons=[str(r) for r in cfg.data.exit_reasons],
    )
    log.info(
        "data end %s; applied %s; %d customers' paths changed; %d exit surveys",
        result.data_end.date(),
        list(result.applied) or "no export",
        result.changed_customers,
        result.exit_surveys,
    )
    return result


@hydra.main(version_base="1.3", config_path="../conf", config_name="simulate_campaign")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "simulate_campaign")
