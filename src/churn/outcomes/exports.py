"""Past exports read back for measurement: ``<export.dir>/<as_of>/{scores.parquet, manifest.json}``.

Export folders are only ever read here, never written. An export is *due* once its outcome
window ``[as_of, as_of + H)`` lies inside the observed data: ``as_of + H <= E``, with ``H`` the
horizon the export's model predicted for (``manifest.json``: ``model.horizon_days``) and ``E``
the data end.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from churn.errors import ConfigError, DataError, InsufficientHistoryError

log = logging.getLogger(__name__)

SCORES = "scores.parquet"
AT_RISK = "at_risk.parquet"
MANIFEST = "manifest.json"
EARLIER = "earlier_campaign"
EXPLORED = "explored"  # a random offer of offers.explore_fraction: not in the plan's two arms
REQUIRED_COLUMNS = (
    "customer_id",
    "status",
    "churn_probability",
    "risk_tier",
    "offer",
    "offer_cost",
    "expected_net_benefit",
    "control_group",
    "control_offer",
)
OFFER_COLUMNS = (
    "offer",
    "offer_cost",
    "expected_net_benefit",
    "control_group",
    "control_offer",
)
_DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class PastExport:
    """One export folder as the measurement needs it.

    Attributes:
        as_of: the export's as-of date.
        folder: where it was read from.
        horizon_days: the horizon ``H`` its model predicted churn for.
        model_version: the model version that scored it.
        test_metrics: the bundle's recorded test metrics (``roc_auc``, ``brier``, ``ece``).
        scores: ``scores.parquet`` with :data:`REQUIRED_COLUMNS` and ``earlier_campaign`` (all
            null when the export has no such column).
        notes: how the scores were completed (offer columns from ``at_risk.parquet``).
        top_reasons: the model's top reason (``reason_1`` of ``at_risk.parquet``) by customer
            id, for the customers on the at-risk list; empty without that column.
    """

    as_of: pd.Timestamp
    folder: Path
    horizon_days: int
    model_version: str
    test_metrics: Mapping[str, float | None] = field(default_factory=dict)
    scores: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    notes: tuple[str, ...] = ()
    top_reasons: pd.Series = field(default_factory=lambda: pd.Series(dtype="string"), repr=False)

    @property
    def window_end(self) -> pd.Timestamp:
        """The end (exclusive) of the outcome window, ``as_of + H``."""
        return self.as_of + pd.Timedelta(days=self.horizon_days)


def export_folders(root: str | os.PathLike[str]) -> list[Path]:
    """The ``YYYY-MM-DD`` folders under ``root`` that hold a manifest, oldest first."""
    base = Path(root)
    if not base.is_dir():
        return []
    return sorted(
        folder
        for folder in base.iterdir()
        if folder.is_dir() and _DATE_FOLDER.fullmatch(folder.name) and (folder / MANIFEST).is_file()
    )


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The fields of ``manifest.json`` the measurement uses: ``as_of`` and ``model``.

    Raises:
        DataError: the folder or manifest is missing, not JSON, or lacks a field (named).
    """
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise DataError(
            f"outcomes: export folder {Path(folder)} not found; expected a folder written by "
            "pipelines.score (scores.parquet, manifest.json)"
        )
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(f"outcomes: {path} not found; expected the export's manifest") from err
    except json.JSONDecodeError as err:
        raise DataError(f"outcomes: {path}: expected JSON; got {err}") from err
    try:
        model = values["model"]
        return {
            "as_of": str(pd.Timestamp(values["as_of"]).date()),
            "horizon_days": int(model["horizon_days"]),
            "model_version": str(model["version"]),
            "test_metrics": {
                str(k): None if v is None else float(v)
                for k, v in (model.get("test_metrics") or {}).items()
            },
        }
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(
            f"outcomes: {path}: expected as_of and model.version, model.horizon_days; a field is "
            f"missing or malformed: {err!r}"
        ) from err


def read_scores(folder: str | os.PathLike[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``scores.parquet`` of an export with the columns the measurement uses, and notes.

    ``earlier_campaign`` (the as-of date of an earlier campaign whose outcome window holds this
    export's date and that contacted or held back this customer) is all null when absent.
    Exports whose ``scores.parquet`` holds no offer columns (written before they were added
    there) take them from ``at_risk.parquet``, which lists everyone an offer was planned for;
    without ``control_offer`` the control group cannot be split by offer, so only the total is
    measured (a note says so).

    Raises:
        DataError: the file is missing, unreadable, lacks a column or repeats a customer.
    """
    path = Path(folder) / SCORES
    if not path.is_file():
        raise DataError(f"outcomes: {path} not found; expected the export's scores")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise DataError(f"outcomes: {path}: cannot be read: {err}") from err
    if "customer_id" in frame.columns:
        frame["customer_id"] = frame["customer_id"].astype("string")
    frame, notes = _offer_columns(frame, Path(folder))
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"outcomes: {path}: expected columns {list(REQUIRED_COLUMNS)}; missing {missing}"
        )
    out = frame[[*REQUIRED_COLUMNS]].copy()
    if out["customer_id"].duplicated().any():
        repeated = out.loc[out["customer_id"].duplicated(), "customer_id"].head(3).tolist()
        raise DataError(f"outcomes: {path}: expected each customer once; repeated {repeated}")
    for name in ("status", "risk_tier", "offer", "control_offer"):
        out[name] = out[name].astype("string")
    out["control_group"] = out["control_group"].astype("boolean").fillna(False).astype(bool)
    for name in ("churn_probability", "offer_cost", "expected_net_benefit"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    out["offer_cost"] = out["offer_cost"].fillna(0.0)
    earlier = frame[EARLIER] if EARLIER in frame.columns else pd.Series(pd.NA, index=frame.index)
    out[EARLIER] = earlier.astype("string")
    explored = frame[EXPLORED] if EXPLORED in frame.columns else pd.Series(False, frame.index)
    out[EXPLORED] = explored.astype("boolean").fillna(False).astype(bool).to_numpy()
    return out.reset_index(drop=True), notes


def _offer_columns(frame: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``frame`` with the offer columns it lacks taken from ``at_risk.parquet`` when there."""
    lacking = [c for c in OFFER_COLUMNS if c not in frame.columns]
    source = folder / AT_RISK
    if not lacking or not source.is_file() or "customer_id" not in frame.columns:
        return frame, ()
    try:
        at_risk = pd.read_parquet(source)
    except (OSError, ValueError) as err:
        raise DataError(f"outcomes: {source}: cannot be read: {err}") from err
    taken = [c for c in lacking if c in at_risk.columns]
    extra = at_risk[["customer_id", *taken]].copy()
    extra["customer_id"] = extra["customer_id"].astype("string")
    out = frame.merge(extra, on="customer_id", how="left", validate="one_to_one")
    notes = [f"offer columns {taken} read from {source.name} (not in {SCORES})"]
    if "control_offer" not in out.columns:
        out["control_offer"] = pd.Series(pd.NA, index=out.index, dtype="string")
        notes.append(
            "no control_offer column: the control group cannot be split by offer, only the "
            "total (all offers) is measured"
        )
    for note in notes:
        log.warning("outcomes: %s: %s", folder, note)
    return out, tuple(notes)


def read_export(folder: str | os.PathLike[str]) -> PastExport:
    """The export in ``folder``: its manifest fields and scores.

    Raises:
        DataError: the folder, its manifest or its scores are missing or malformed.
    """
    manifest = read_manifest(folder)
    scores, notes = read_scores(folder)
    return PastExport(
        as_of=pd.Timestamp(manifest["as_of"]),
        folder=Path(folder),
        horizon_days=manifest["horizon_days"],
        model_version=manifest["model_version"],
        test_metrics=manifest["test_metrics"],
        scores=scores,
        notes=notes,
        top_reasons=read_top_reasons(folder),
    )


def read_top_reasons(folder: str | os.PathLike[str]) -> pd.Series:
    """``reason_1`` of the export's ``at_risk.parquet`` indexed by customer id (strings).

    Empty when the file or the column is absent (an export without reasons).

    Raises:
        DataError: the file cannot be read.
    """
    source = Path(folder) / AT_RISK
    empty = pd.Series(dtype="string", index=pd.Index([], dtype="string", name="customer_id"))
    if not source.is_file():
        return empty
    try:
        if not {"customer_id", "reason_1"} <= set(pq.read_schema(source).names):
            return empty
        frame = pd.read_parquet(source, columns=["customer_id", "reason_1"])
    except (OSError, ValueError) as err:
        raise DataError(f"outcomes: {source}: cannot be read: {err}") from err
    reasons = frame["reason_1"].astype("string")
    reasons.index = pd.Index(frame["customer_id"].astype("string"), name="customer_id")
    return reasons[reasons.notna()]


def due_exports(
    root: str | os.PathLike[str], end: pd.Timestamp, *, as_of: Any = None
) -> list[PastExport]:
    """The exports whose outcome window has ended by the data end ``end``, oldest first.

    Args:
        root: the exports' root (``export.dir``).
        end: the data end ``E`` (exclusive).
        as_of: one export's date (``YYYY-MM-DD``); None: every export under ``root``.

    Raises:
        DataError: the named export's folder is missing or malformed.
        InsufficientHistoryError: the named export's window has not ended by ``end``; the
            message says from which data end it can be measured.
    """
    if as_of is not None:
        past = read_export(named_folder(root, as_of))
        if past.window_end > end:
            raise InsufficientHistoryError(
                f"outcomes: export {past.as_of.date()} cannot be measured yet: its outcome window "
                f"[{past.as_of.date()}, {past.window_end.date()}) ends after the data end "
                f"{pd.Timestamp(end).date()}; it can be measured from {past.window_end.date()} "
                f"(data through {(past.window_end - pd.Timedelta(days=1)).date()})"
            )
        return [past]
    due: list[PastExport] = []
    for folder in export_folders(root):
        manifest = read_manifest(folder)
        window_end = pd.Timestamp(manifest["as_of"]) + pd.Timedelta(days=manifest["horizon_days"])
        if window_end > end:
            log.info(
                "outcomes: export %s not due yet: measurable from %s",
                folder.name,
                window_end.date(),
            )
            continue
        due.append(read_export(folder))
    if not due:
        log.warning(
            "outcomes: no export under %s has an outcome window ending by the data end %s; "
            "nothing to measure",
            root,
            pd.Timestamp(end).date(),
        )
    return due


def named_folder(root: str | os.PathLike[str], as_of: Any) -> Path:
    """The folder of the export dated ``as_of`` (``YYYY-MM-DD``) under ``root``.

    Raises:
        ConfigError: ``as_of`` is not a date.
        DataError: the folder does not exist (the message names the path).
    """
    folder = Path(root) / str(_date(as_of).date())
    if not folder.is_dir():
        raise DataError(
            f"outcomes: export folder {folder} not found; expected a folder written by "
            f"pipelines.score for as_of {as_of} (scores.parquet, manifest.json)"
        )
    return folder


def _date(value: Any) -> pd.Timestamp:
    try:
        day = pd.Timestamp(str(value))
    except ValueError as err:
        raise ConfigError(f"outcomes: as_of: expected a date YYYY-MM-DD; got {value!r}") from err
    if day != day.normalize():
        raise ConfigError(f"outcomes: as_of: expected a date YYYY-MM-DD; got {value!r}")
    return day
