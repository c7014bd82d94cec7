"""The retention report: ``python -m pipelines.report``.

Computes the retention KPIs, cohorts and retention curves from the data, reads the latest
export (``export.dir``) and the model bundle (``model_dir``), and writes one self-contained
``report.html`` next to the latest export (or in the run folder when there is no export yet),
then logs it to MLflow when tracking is on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from churn import bundle, export, kpis, reports, tracking
from churn.errors import BundleError, ConfigError, TrackingError
from churn.files import atomic_file
from pipelines.common import load_data, run_main

log = logging.getLogger(__name__)

FREQS = ("M", "Q", "Y")


@dataclass(frozen=True)
class ReportResult:
    """Where the report went."""

    path: Path
    export_folder: Path | None
    mlflow_run_id: str | None


def _container(node: Any) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def run(cfg: DictConfig) -> ReportResult:
    """Compute the KPIs, gather the latest scoring run and the model card, write the HTML."""
    freq = str(cfg.report.freq)
    if freq not in FREQS:
        raise ConfigError(f"report.freq: expected one of {list(FREQS)}; got {freq!r}")
    churn_after = int(cfg.report.churn_after_days)
    dataset = load_data(cfg.data, seed=int(cfg.seed), output_dir=Path(cfg.output_dir))
    tx = dataset.transactions.select(["customer_id", "timestamp", "amount"]).to_pandas()
    events = dataset.events.to_pandas() if dataset.events is not None else None

    period = kpis.period_kpis(tx, freq=freq, churn_after_days=churn_after)
    summary = kpis.summary_kpis(tx, churn_after_days=churn_after)
    cohorts = kpis.cohort_retention(tx, freq=freq, max_age=int(cfg.report.max_age))
    cohorts = cohorts.tail(int(cfg.report.max_cohorts))
    curve = kpis.retention_curve(cohorts)
    nps_value, nps_groups = None, None
    if events is not None and (events["type"] == "nps").any():
        latest = events[events["type"] == "nps"].sort_values("timestamp")
        latest = latest.groupby("customer_id").tail(1)
        nps_value = kpis.nps(latest["value"].astype(float))
        nps_groups = kpis.churn_by_nps_group(tx, events, churn_after_days=churn_after)

    folder = _latest_export(Path(cfg.export.dir))
    scoring_manifest, at_risk = None, None
    if folder is not None:
        scoring_manifest = _read_json(folder / export.MANIFEST)
        at_risk = pd.read_parquet(folder / export.AT_RISK_PARQUET)
    model, plots = None, {}
    try:
        model = bundle.read_manifest(cfg.model_dir)
        plots = {
            "reliability diagram": Path(cfg.model_dir) / "plots" / "reliability.png",
            "cumulative gain": Path(cfg.model_dir) / "plots" / "cumulative_gain.png",
        }
    except BundleError as err:
        log.warning("no model card: %s", err)

    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    ts = tx["timestamp"]
    data = reports.ReportData(
        title=str(cfg.report.title),
        generated_at=stamp,
        data_summary={
            "first": str(ts.min().date()) if len(ts) else "-",
            "last": str(ts.max().date()) if len(ts) else "-",
            "customers": int(tx["customer_id"].nunique()),
            "rows": len(tx),
        },
        freq=freq,
        period_kpis=period,
        summary=summary,
        cohorts=cohorts,
        curve=curve,
        nps_value=nps_value,
        nps_groups=nps_groups,
        scoring=scoring_manifest,
        at_risk=at_risk,
        model=model,
        model_plots=plots,
        churn_after_days=churn_after,
        data_end=ts.max().normalize() + pd.Timedelta(days=1) if len(ts) else None,
    )
    page = reports.render(data)
    path = (folder if folder is not None else Path(cfg.output_dir)) / "report.html"
    with atomic_file(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("report written to %s (%.0f kB)", path, len(page) / 1024)

    run_id = None
    config = tracking.TrackingConfig.from_mapping(_container(cfg.tracking))
    if config.enabled and cfg.report.log_to_mlflow:
        try:
            run_id = tracking.log_report(config, path, as_of=(scoring_manifest or {}).get("as_of"))
        except TrackingError as err:
            if config.on_error == "fail":
                raise TrackingError(f"{err}; the report was written to {path}") from err
            log.warning("%s; the report was written to %s", err, path)
    return ReportResult(path, folder, run_id)


def _latest_export(root: Path) -> Path | None:
    """The export folder with the latest as-of date that holds a manifest."""
    if not root.is_dir():
        return None
    dated = [p for p in root.iterdir() if (p / export.MANIFEST).is_file() and p.name[:1].isdigit()]
    return max(dated, key=lambda p: p.name) if dated else None


def _read_json(path: Path) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


@hydra.main(version_base="1.3", config_path="../conf", config_name="report")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    main()
