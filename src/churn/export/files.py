"""Exports a retention team opens: ``exports/<as_of>/`` (docs/scoring-and-offers.md).

The folder holds ``scores.parquet`` (every customer, once, with a status), ``at_risk.csv`` and
``at_risk.parquet`` (the at-risk list, sorted by expected net benefit), ``rejects.csv``
(customers that could not be scored, with a reason) and ``manifest.json``. It is written into a
temporary folder renamed into place, so all files appear together or not at all, re-running the
same as-of date replaces it, and it is readable by its owner only (customer data). The CSV files
are for people (:func:`churn.spreadsheet.write_csv`: no live formulas, rounded numbers); what the
pipeline reads back (the cooldown, reports) is read from the Parquet files.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.errors import DataError
from churn.files import atomic_directory, canonical_json
from churn.progress import Progress
from churn.spreadsheet import write_csv

if TYPE_CHECKING:
    from churn.export.manifest import ExportManifest
    from churn.scoring import ScoringRun

log = logging.getLogger(__name__)

SCORES = "scores.parquet"
AT_RISK_CSV = "at_risk.csv"
AT_RISK_PARQUET = "at_risk.parquet"
REJECTS = "rejects.csv"
MANIFEST = "manifest.json"
_DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


def export_folder(root: str | os.PathLike[str], as_of: pd.Timestamp) -> Path:
    """``<root>/<YYYY-MM-DD>``."""
    return Path(root) / str(pd.Timestamp(as_of).date())


def write_exports(
    folder: str | os.PathLike[str],
    *,
    scores: pd.DataFrame | None,
    at_risk: pd.DataFrame,
    rejects: pd.DataFrame,
    manifest: ExportManifest | Mapping[str, Any],
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write the export folder atomically, replacing an earlier one for the same as-of date.

    ``extra`` writes more into the temporary folder before it is renamed into place (Spark's
    partitioned datasets); ``scores`` may then be None when ``extra`` writes them.
    """
    final = Path(folder)
    payload = manifest if isinstance(manifest, Mapping) else manifest.to_dict()
    steps: list[Callable[[Path], object]] = [] if extra is None else [extra]
    if scores is not None:
        steps.append(lambda tmp: scores.to_parquet(tmp / SCORES, index=False))
    steps += [
        lambda tmp: at_risk.to_parquet(tmp / AT_RISK_PARQUET, index=False),
        lambda tmp: write_csv(at_risk, tmp / AT_RISK_CSV),
        lambda tmp: write_csv(rejects, tmp / REJECTS),
        lambda tmp: (tmp / MANIFEST).write_text(canonical_json(payload), encoding="utf-8"),
    ]
    with atomic_directory(final) as tmp, Progress("export", len(steps), unit="files") as bar:
        for step in steps:
            step(tmp)
            bar.update(1)
    log.info(
        "exports written to %s: %s customers, %d on the at-risk list, %d rejected",
        final,
        len(scores) if scores is not None else payload.get("counts", {}).get("customers"),
        len(at_risk),
        len(rejects),
    )
    return final


def write_run(folder: str | os.PathLike[str], run: ScoringRun, manifest: ExportManifest) -> Path:
    """Write one scoring run's export folder (:func:`write_exports`) with its manifest."""
    return write_exports(
        folder,
        scores=run.scores,
        at_risk=run.outcome.at_risk,
        rejects=run.population.rejects,
        manifest=manifest,
        extra=run.write_extra,
    )


def recently_offered(
    root: str | os.PathLike[str], *, as_of: pd.Timestamp, cooldown_days: int
) -> set[str]:
    """Customers offered something in exports dated within ``cooldown_days`` before ``as_of``.

    The export for ``as_of`` itself is ignored, so re-running a date gives the same list.
    """
    base = Path(root)
    if cooldown_days <= 0 or not base.is_dir():
        return set()
    start = pd.Timestamp(as_of) - pd.Timedelta(days=cooldown_days)
    offered: set[str] = set()
    for folder in sorted(base.iterdir()):
        if not _DATE_FOLDER.fullmatch(folder.name):
            continue
        try:
            day = pd.Timestamp(folder.name)
        except ValueError:
            continue
        if not (start <= day < pd.Timestamp(as_of)) or not (folder / AT_RISK_PARQUET).is_file():
            continue
        earlier = pd.read_parquet(folder / AT_RISK_PARQUET, columns=["customer_id", "offer"])
        offered |= set(earlier.loc[earlier["offer"].notna(), "customer_id"].astype(str))
    log.info("cooldown: %d customers offered since %s", len(offered), start.date())
    return offered


def open_campaigns(root: str | os.PathLike[str], *, as_of: pd.Timestamp) -> dict[str, str]:
    """Customers still inside an earlier campaign's outcome window at ``as_of``.

    An export dated ``d < as_of`` whose window ``[d, d + H)`` (``H`` from its manifest) contains
    ``as_of`` is open; its customers who were contacted or held back as control are mapped to
    ``d`` (the latest such date when several are open). Exports without a manifest are skipped.
    """
    base = Path(root)
    day = pd.Timestamp(as_of)
    found: dict[str, str] = {}
    if not base.is_dir():
        return found
    for folder in sorted(base.iterdir()):  # date order: later campaigns overwrite earlier ones
        if not _DATE_FOLDER.fullmatch(folder.name) or not (folder / AT_RISK_PARQUET).is_file():
            continue
        try:
            start = pd.Timestamp(folder.name)
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            horizon = int(manifest["model"]["horizon_days"])
        except (ValueError, OSError, KeyError, TypeError):
            continue
        if not start < day < start + pd.Timedelta(days=horizon):
            continue
        rows = pd.read_parquet(
            folder / AT_RISK_PARQUET, columns=["customer_id", "offer", "control_group"]
        )
        arms = rows["offer"].notna() | rows["control_group"].fillna(False).astype(bool)
        found.update(dict.fromkeys(rows.loc[arms, "customer_id"].astype(str), folder.name))
    log.info("%d customers inside an earlier campaign's outcome window", len(found))
    return found


def read_suppression(path: str | os.PathLike[str] | None) -> set[str]:
    """Customer ids of the suppression list (opt-outs): a CSV or Parquet with ``customer_id``.

    Raises:
        DataError: the file is missing or lacks a customer_id column.
    """
    if path is None:
        return set()
    source = Path(path)
    if not source.is_file():
        raise DataError(
            f"offers.suppression_file: expected a CSV or Parquet file; {source} not found"
        )
    try:
        frame = (
            pd.read_parquet(source)
            if source.suffix == ".parquet"
            else pd.read_csv(source, dtype={"customer_id": str})
        )
    except (ValueError, OSError) as err:  # pandas' EmptyDataError and ParserError are ValueErrors
        raise DataError(f"offers.suppression_file {source}: cannot be read: {err}") from err
    if "customer_id" not in frame.columns:
        raise DataError(
            f"offers.suppression_file {source}: expected a customer_id column; got "
            f"{list(frame.columns)}"
        )
    ids = set(frame["customer_id"].dropna().astype(str))
    log.info("suppression list %s: %d customers never offered", source, len(ids))
    return ids
