"""The retention report: ``python -m pipelines.report``.

Computes the retention KPIs, cohorts and retention curves from the data, reads the latest
export (``export.dir``) and the model bundle (``model_dir``), and writes one self-contained
``report.html`` next to the latest export (or in the run folder when there is no export yet),
then logs it to MLflow when tracking is on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import hydra
from omegaconf import DictConfig

from churn import reports, tracking
from churn.errors import TrackingError
from churn.files import atomic_file
from pipelines.cli import launch, run_main
from pipelines.common import container, load_data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportResult:
    """Where the report went."""

    path: Path
    export_folder: Path | None
    mlflow_run_id: str | None


def run(cfg: DictConfig) -> ReportResult:
    """Compute the KPIs, gather the latest scoring run and the model card, write the HTML."""
    config = reports.ReportConfig.from_mapping(container(cfg.report))
    dataset = load_data(cfg.data, seed=int(cfg.seed), output_dir=Path(cfg.output_dir))
    latest = reports.latest_export(cfg.export.dir)
    model, plots = reports.model_card(cfg.model_dir)
    backtest = reports.backtest_folder(config.backtest, root="outputs")
    data = reports.build_report(
        dataset, config, latest=latest, model=model, model_plots=plots, backtest=backtest
    )
    page = reports.render(data)
    folder = latest.folder if latest is not None else None
    path = (folder if folder is not None else Path(cfg.output_dir)) / "report.html"
    with atomic_file(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("report written to %s (%.0f kB)", path, len(page) / 1024)
    run_id = None
    tracking_config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
    if tracking_config.enabled and config.log_to_mlflow:
        as_of = latest.manifest.as_of if latest is not None else None
        try:
            run_id = tracking.log_report(tracking_config, path, as_of=as_of)
        except TrackingError as err:
            if tracking_config.on_error == "fail":
                raise TrackingError(f"{err}; the report was written to {path}") from err
            log.warning("%s; the report was written to %s", err, path)
    return ReportResult(path, folder, run_id)


@hydra.main(version_base="1.3", config_path="../conf", config_name="report")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "report")
