"""The report stage: a loaded dataset, the latest export and the bundle in, :class:`ReportData` out.

:func:`build_report` computes the retention KPIs, cohorts and retention curves from the data,
reads the latest export folder (its manifest and at-risk list) and the bundle's manifest (the
model card), and returns what :func:`churn.reports.render` draws.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from churn import kpis
from churn.bundle import Manifest, read_served_manifest
from churn.config import Config
from churn.data import Dataset
from churn.errors import BundleError, ConfigError, ExportError
from churn.export.files import AT_RISK_PARQUET, MANIFEST
from churn.export.manifest import ExportManifest
from churn.reports.campaigns_section import read_outcomes
from churn.reports.html import ReportData

log = logging.getLogger(__name__)

FREQS = ("M", "Q", "Y")
MODEL_PLOTS = {
    "reliability": "reliability diagram",
    "cumulative_gain": "cumulative gain",
    "clv_check": "CLV check: predicted and actual purchases and spend",
}


@dataclass(frozen=True)
class ReportConfig(Config):
    """The ``report`` node: what the report covers and how it groups time."""

    section: ClassVar[str] = "report"

    title: str = "Customer retention report"
    freq: str = "M"
    churn_after_days: int = 90
    max_cohorts: int = 24
    max_age: int = 24
    log_to_mlflow: bool = True
    backtest: str | None = "latest"  # a backtest folder, latest (the newest under outputs/), null
    outcomes: str | None = None  # the outcomes folder of pipelines.outcomes (null: no section)
    max_campaigns: int = 6  # the most recent measured campaigns shown

    def validate(self) -> None:
        """Raise ConfigError for an unknown period or a non-positive window."""
        if self.freq not in FREQS:
            raise ConfigError(f"report.freq: expected one of {list(FREQS)}; got {self.freq!r}")
        for name in ("churn_after_days", "max_cohorts", "max_age", "max_campaigns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"report.{name}: expected a whole number >= 1; got {value!r}")


@dataclass(frozen=True)
class LatestExport:
    """The latest export folder: its manifest and at-risk list."""

    folder: Path
    manifest: ExportManifest
    at_risk: pd.DataFrame


def latest_export(root: str | os.PathLike[str]) -> LatestExport | None:
    """The export folder with the latest as-of date that holds a manifest, or None.

    Raises:
        ExportError: its manifest is not a manifest of this release.
    """
    folder = Path(root)
    if not folder.is_dir():
        return None
    dated = [p for p in folder.iterdir() if (p / MANIFEST).is_file() and p.name[:1].isdigit()]
    if not dated:
        return None
    latest = max(dated, key=lambda p: p.name)
    path = latest / MANIFEST
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExportError(f"{path}: expected a JSON manifest; could not read it: {err}") from err
    manifest = ExportManifest.from_dict(values, where=str(path))
    return LatestExport(latest, manifest, pd.read_parquet(latest / AT_RISK_PARQUET))


def model_card(model_dir: str | os.PathLike[str]) -> tuple[Manifest | None, dict[str, Path]]:
    """The served bundle's manifest and plots by caption (the store's champion); (None, {})
    when nothing is served."""
    try:
        folder, manifest = read_served_manifest(model_dir)
    except BundleError as err:
        log.warning("no model card: %s", err)
        return None, {}
    plots = {
        caption: folder / manifest.plots[stem]
        for stem, caption in MODEL_PLOTS.items()
        if stem in manifest.plots
    }
    return manifest, plots


def build_report(
    dataset: Dataset,
    config: ReportConfig,
    *,
    latest: LatestExport | None,
    model: Manifest | None,
    model_plots: Mapping[str, Path],
    backtest: Path | None = None,
) -> ReportData:
    """Everything the report shows, computed from the data and read from the run's files."""
    tx = dataset.transactions.select(["customer_id", "timestamp", "amount"]).to_pandas()
    churn_after = config.churn_after_days
    cohorts = kpis.cohort_retention(tx, freq=config.freq, max_age=config.max_age)
    cohorts = cohorts.tail(config.max_cohorts)
    nps_value, nps_groups = _nps(tx, dataset, churn_after)
    ts = tx["timestamp"]
    return ReportData(
        title=config.title,
        generated_at=pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC"),
        data_summary={
            "first": str(ts.min().date()) if len(ts) else "-",
            "last": str(ts.max().date()) if len(ts) else "-",
            "customers": int(tx["customer_id"].nunique()),
            "rows": len(tx),
        },
        freq=config.freq,
        period_kpis=kpis.period_kpis(tx, freq=config.freq, churn_after_days=churn_after),
        summary=kpis.summary_kpis(tx, churn_after_days=churn_after),
        cohorts=cohorts,
        curve=kpis.retention_curve(cohorts),
        nps_value=nps_value,
        nps_groups=nps_groups,
        scoring=latest.manifest if latest is not None else None,
        at_risk=latest.at_risk if latest is not None else None,
        model=model,
        model_plots=dict(model_plots),
        churn_after_days=churn_after,
        data_end=ts.max().normalize() + pd.Timedelta(days=1) if len(ts) else None,
        backtest=_read_backtest(backtest),
        backtest_plots=_backtest_plots(backtest),
        campaigns=read_outcomes(config.outcomes, last=config.max_campaigns),
    )


BACKTEST_PLOTS = ("roc_auc", "ece", "calibration_in_the_large")


def backtest_folder(choice: str | None, *, root: str | os.PathLike[str]) -> Path | None:
    """The backtest folder ``report.backtest`` names: a folder, ``latest`` or None.

    Raises:
        ConfigError: a named folder without ``backtest.json``.
    """
    if choice is None:
        return None
    if choice == "latest":
        return latest_backtest(root)
    folder = Path(choice)
    if not (folder / "backtest.json").is_file():
        raise ConfigError(
            f"report.backtest: expected a backtest folder holding backtest.json (or latest, or "
            f"null); got {choice!r}"
        )
    return folder


def latest_backtest(root: str | os.PathLike[str]) -> Path | None:
    """The newest ``backtest/`` folder with a ``backtest.json`` under ``root`` (None: none)."""
    found = sorted(Path(root).glob("*/*/backtest/backtest.json"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def _read_backtest(folder: Path | None) -> dict[str, Any] | None:
    if folder is None:
        return None
    path = folder / "backtest.json"
    try:
        payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExportError(f"report: cannot read the backtest results {path}: {err}") from err
    log.info("report: backtest section from %s", folder)
    return payload


def _backtest_plots(folder: Path | None) -> dict[str, Path]:
    if folder is None:
        return {}
    plots = {name: folder / "plots" / f"{name}.png" for name in BACKTEST_PLOTS}
    return {name: path for name, path in plots.items() if path.is_file()}


def _nps(
    tx: pd.DataFrame, dataset: Dataset, churn_after: int
) -> tuple[float | None, pd.DataFrame | None]:
    if dataset.events is None:
        return None, None
    events: Any = dataset.events.to_pandas()
    answers = events[events["type"] == "nps"]
    if answers.empty:
        return None, None
    latest = answers.sort_values("timestamp").groupby("customer_id").tail(1)
    groups = kpis.churn_by_nps_group(tx, events, churn_after_days=churn_after)
    return kpis.nps(latest["value"].astype(float)), groups
