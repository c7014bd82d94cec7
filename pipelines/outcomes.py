"""Measure past campaigns: ``python -m pipelines.outcomes`` (docs/outcomes.md).

Loads the data, finds the exports whose outcome window ``[as_of, as_of + H)`` has passed by the
data end (or the one named by ``as_of``, shorthand ``export=<as_of>``), measures each campaign
against its control group and the model against what happened, and writes
``<outcomes.dir>/<as_of>/`` with one MLflow run per measured export.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from churn import outcomes, tracking
from churn.errors import TrackingError
from churn.labels import LabelConfig
from churn.offers import OfferConfig
from pipelines.cli import launch, run_main
from pipelines.common import container, load_data

log = logging.getLogger(__name__)

_SHORTHAND = re.compile(r"export=(\d{4}-\d{2}-\d{2}|null)")


@dataclass(frozen=True)
class OutcomesResult:
    """The exports measured, where their results went and what to look at."""

    measured: list[str]
    folders: list[Path]
    warnings: dict[str, list[str]] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)


def run(cfg: DictConfig) -> OutcomesResult:
    """Measure every due export (or the one named by ``as_of``) and write the results."""
    settings = outcomes.OutcomeConfig.from_mapping(container(cfg.outcomes))
    label = LabelConfig.from_mapping(container(cfg.label))
    offers = OfferConfig.from_mapping(container(cfg.offers), tiers=list(cfg.tiers.names))
    tracking_config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
    export_dir, as_of = str(cfg.export.dir), cfg.as_of
    if as_of is not None:
        outcomes.named_folder(export_dir, as_of)  # a missing folder fails before any loading
    dataset = load_data(cfg.data, seed=int(cfg.seed), output_dir=Path(cfg.output_dir))
    observed = outcomes.observe(
        dataset,
        container(cfg.engine),
        end_date=cfg.data.get("end_date"),
        purchase_rule=label.purchase_rule,
    )
    due = outcomes.due_exports(export_dir, observed.end, as_of=as_of)
    save_rates = {offer.name: offer.save_rate for offer in offers.catalog}
    answers = outcomes.survey_answers(dataset.events, [str(r) for r in cfg.data.exit_reasons])
    result = OutcomesResult([], [])
    for past in due:
        measured = outcomes.measure_campaign(
            past, observed, settings, margin=offers.margin, save_rates=save_rates, answers=answers
        )
        folder = outcomes.write_outcomes(
            outcomes.outcome_folder(settings.dir, past.as_of), measured
        )
        day = str(past.as_of.date())
        result.measured.append(day)
        result.folders.append(folder)
        result.warnings[day] = measured.warnings
        result.run_ids.extend(filter(None, [_track(cfg, tracking_config, measured, folder)]))
    return result


def _track(
    cfg: DictConfig,
    config: tracking.TrackingConfig,
    measured: outcomes.CampaignOutcome,
    folder: Path,
) -> str | None:
    """Log one measured export when tracking is on; ``tracking.on_error`` decides failures."""
    if not config.enabled:
        return None
    try:
        return tracking.log_outcomes(
            config,
            as_of=str(measured.as_of.date()),
            params=tracking.flatten(container(cfg.outcomes)),
            config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
            metrics=measured.metrics(),
            artifacts=folder,
        )
    except TrackingError as err:
        if config.on_error == "fail":
            raise
        log.warning("%s; the outcomes are in %s", err, folder)
        return None


def shorthand(argv: list[str]) -> list[str]:
    """``export=<YYYY-MM-DD>`` (or ``export=null``) on the command line as ``as_of=<...>``."""
    return [f"as_of={m.group(1)}" if (m := _SHORTHAND.fullmatch(a)) else a for a in argv]


@hydra.main(version_base="1.3", config_path="../conf", config_name="outcomes")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    sys.argv[1:] = shorthand(sys.argv[1:])
    launch(main, "outcomes")
