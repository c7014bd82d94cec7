"""Move a generated world forward under the plans of its exports (docs/campaigns.md).

:func:`simulate_campaigns` finds the exports not yet applied to the world, lets each contacted
customer (``contact_status == "offer"``) respond to the offer from the export's as-of date on
(:mod:`~churn.synthetic.effects`), re-simulates the paths of the customers whose fade start
moved (:mod:`~churn.synthetic.paths`), records the true uplift of every contacted and control
customer (:mod:`~churn.synthetic.uplift`), and moves the data end forward by ``days``: the
observed tables gain the future rows before the new end, the future files lose them, and the
events gain the exit surveys of the customers who left (:mod:`~churn.synthetic.surveys`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn.errors import ConfigError, DataError
from churn.synthetic import paths, uplift
from churn.synthetic.contact import respond_to
from churn.synthetic.effects import DEFAULT, CampaignConfig
from churn.synthetic.state import (
    WorldState,
    add_windows,
    dates_of,
    load_world,
    save_world,
)
from churn.synthetic.surveys import exit_surveys
from churn.synthetic.tables import _to_arrow

log = logging.getLogger(__name__)

_DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Export:
    """One scored export: its as-of date, manifest digest, horizon and customers' plans."""

    as_of: pd.Timestamp
    folder: Path
    digest: str
    horizon_days: int
    scores: pd.DataFrame


@dataclass(frozen=True)
class CampaignResult:
    """What a campaign run did to the world."""

    folder: Path
    data_end: pd.Timestamp
    applied: tuple[str, ...]
    changed_customers: int
    exit_surveys: int = 0


def simulate_campaigns(
    folder: str | os.PathLike[str],
    export_dir: str | os.PathLike[str],
    config: CampaignConfig,
    *,
    days: int,
    seed: int = 0,
    exit_reasons: Sequence[str] = (),
) -> CampaignResult:
    """Apply the pending exports of ``export_dir`` and move the world forward by ``days``.

    Args:
        folder: the generated world folder (``data/<name>``).
        export_dir: the world's exports (``exports/<as_of>/``).
        config: what each offer does.
        days: days to move the data end forward (at least 1, at most the remaining future).
        seed: mixed with the world's seed into the campaigns' own random streams.
        exit_reasons: ``data.exit_reasons``: an exit survey's value is its reason's index here
            (needed when ``config.exit_survey.response_rate`` is above 0).

    Raises:
        ConfigError: ``days`` out of range, or exit survey reasons not in ``exit_reasons``.
        DataError: a folder that was not generated, an export dated after the data end or before
            an applied one, an export re-scored after it was applied, or customers it names that
            are not in the world.
    """
    state = load_world(folder)
    remaining = int((state.simulated_end - state.data_end).days)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= remaining:
        raise ConfigError(
            f"simulate_campaign.days: expected a whole number of days in [1, {remaining}] (the "
            f"future left after the data end {state.data_end.date()}); got {days!r}"
        )
    config.exit_survey.check_reasons(exit_reasons)  # before any export is read
    exports = pending_exports(export_dir, state)
    applied_on = state.data_end
    changed = 0
    for export in exports:
        state, n = apply_export(state, export, config, seed=seed)
        state = state.with_changes(
            campaigns=(
                *state.campaigns,
                {
                    "as_of": str(export.as_of.date()),
                    "manifest_sha256": export.digest,
                    "applied_on": str(applied_on.date()),
                    "export": str(export.folder),
                    "changed_customers": n,
                },
            )
        )
        changed += n
    new_end = state.data_end + pd.Timedelta(days=days)
    surveys = exit_surveys(
        state, config.exit_survey, exit_reasons, start=state.data_end, end=new_end
    )
    if surveys.num_rows:  # without answers the events stay as they were, bit for bit
        events = pa.concat_tables([state.events, surveys])
        state = state.with_changes(events=events.take(pc.sort_indices(events["timestamp"])))
    state = state.with_changes(data_end=new_end)
    state = state.with_changes(oracles=uplift.update(state))
    save_world(state)
    log.info(
        "world %s moved to %s: %d exports applied, %d customers changed, %d exit surveys",
        state.folder,
        new_end.date(),
        len(exports),
        changed,
        surveys.num_rows,
    )
    return CampaignResult(
        state.folder,
        new_end,
        tuple(str(e.as_of.date()) for e in exports),
        changed,
        surveys.num_rows,
    )


def pending_exports(export_dir: str | os.PathLike[str], state: WorldState) -> list[Export]:
    """The exports of ``export_dir`` not yet applied to the world, oldest first.

    Raises:
        DataError: see :func:`simulate_campaigns`.
    """
    base = Path(export_dir)
    applied = {c["as_of"]: c for c in state.campaigns}
    latest = max(applied, default=None)
    found = []
    folders = sorted(base.iterdir()) if base.is_dir() else []
    for folder in folders:
        manifest_file = folder / "manifest.json"
        if not _DATE_FOLDER.fullmatch(folder.name) or not manifest_file.is_file():
            continue
        raw = manifest_file.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        as_of = folder.name
        if as_of in applied:
            if applied[as_of]["manifest_sha256"] != digest:
                raise DataError(
                    f"simulate_campaign: export {folder} was applied to {state.folder} with "
                    f"manifest sha256 {applied[as_of]['manifest_sha256'][:12]}...; got "
                    f"{digest[:12]}... (re-scored after it was applied)"
                )
            log.info("export %s already applied: skipped", folder)
            continue
        manifest = json.loads(raw)
        stamp = pd.Timestamp(manifest.get("as_of", as_of))
        if stamp > state.data_end:
            raise DataError(
                f"simulate_campaign: export {folder} is dated after the world's data end; "
                f"expected as_of <= {state.data_end.date()}; got {stamp.date()}"
            )
        if latest is not None and as_of < latest:
            raise DataError(
                f"simulate_campaign: export {folder} is older than the campaign of {latest} "
                f"already applied; expected as_of >= {latest}; got {as_of}"
            )
        horizon = int(manifest["model"]["horizon_days"])
        found.append(Export(stamp, folder, digest, horizon, read_plan(folder)))
    return found


def read_plan(folder: Path) -> pd.DataFrame:
    """The export's plan: ``customer_id, contact_status, offer, control_offer`` per customer.

    From ``scores.parquet`` when it holds the contact columns, else from ``at_risk.parquet``
    (customers off the at-risk list are not contacted). Without ``control_offer`` the control
    customers are evaluated with the ``default`` effect.

    Raises:
        DataError: neither file holds ``contact_status``.
    """
    for name in ("scores.parquet", "at_risk.parquet"):
        path = folder / name
        columns = pq.read_schema(path).names if path.is_file() else []
        if {"customer_id", "contact_status", "offer"} <= set(columns):
            wanted = ["customer_id", "contact_status", "offer", "control_offer"]
            plan = pd.read_parquet(path, columns=[c for c in wanted if c in columns])
            if "control_offer" not in plan:
                log.warning("%s has no control_offer: control customers get the default", path)
                plan["control_offer"] = DEFAULT
            return plan
    raise DataError(
        f"simulate_campaign: export {folder}: expected scores.parquet or at_risk.parquet with "
        "the columns customer_id, contact_status and offer; got neither"
    )


def apply_export(
    state: WorldState, export: Export, config: CampaignConfig, *, seed: int
) -> tuple[WorldState, int]:
    """The world after ``export``'s offers, with its oracle; and how many paths changed."""
    plan = _contacts(export.scores)
    truth = state.truth.set_index(state.truth["customer_id"].astype(str))
    unknown = ~plan["customer_id"].isin(truth.index)
    if unknown.any():
        raise DataError(
            f"simulate_campaign: export {export.folder} names customers that are not in the "
            f"world {state.folder}; expected its own customers; got {int(unknown.sum())} "
            f"others, e.g. {plan.loc[unknown, 'customer_id'].iloc[0]!r}"
        )
    ids = plan["customer_id"].to_numpy()
    a = state.day(export.as_of)
    response, new, redo = respond_to(state, export.as_of, plan, config, seed=seed)
    offered = plan["arm"].to_numpy() == "offer"
    write = redo[offered[redo]]
    before = state
    state = _replace(state, ids[write], a, new, np.isin(redo, write))
    acting = response.factor != 1.0
    windows = pd.DataFrame(
        {
            "customer_id": ids[acting & offered],
            "as_of": str(export.as_of.date()),
            "start": a,
            "end": a + response.effect_days[acting & offered],
            "factor": response.factor[acting & offered],
        }
    )
    truth_new = _updated_truth(
        state, ids[write], response.fade_start[write], response.dropout[write]
    )
    oracle = uplift.build(before, export, plan, response, new, redo)
    oracles = {**state.oracles, str(export.as_of.date()): oracle}
    state = state.with_changes(
        truth=truth_new,
        windows=add_windows(state, windows),
        oracles=oracles,
        changed=state.changed or bool(write.size),
    )
    return state, int(write.size)


def _contacts(scores: pd.DataFrame) -> pd.DataFrame:
    """Contacted customers (``offer``) then control ones, with their offer and arm."""
    contacted = scores[scores["contact_status"] == "offer"]
    control = scores[scores["contact_status"] == "control"]
    customers = pd.concat([contacted["customer_id"], control["customer_id"]])
    return pd.DataFrame(
        {
            "customer_id": customers.astype(str).to_numpy(),
            "offer": pd.concat([contacted["offer"], control["control_offer"]])
            .astype(str)
            .to_numpy(),
            "arm": ["offer"] * len(contacted) + ["control"] * len(control),
        }
    )


def _updated_truth(
    state: WorldState, ids: np.ndarray, fade_start: np.ndarray, dropout: np.ndarray
) -> pd.DataFrame:
    """The ground truth with the new fade start and dropout date of ``ids``."""
    truth = state.truth.copy()
    position = pd.Index(truth["customer_id"].astype(str)).get_indexer(pd.Index(ids))
    for column, values in (("fade_start", fade_start), ("dropout_date", dropout)):
        column_values = truth[column].to_numpy().copy()
        column_values[position] = dates_of(state.params, values)
        truth[column] = column_values
    return truth


def _replace(
    state: WorldState, ids: np.ndarray, a: float, new: paths.Path, keep: np.ndarray
) -> WorldState:
    """The timeline with the rows of ``ids`` from ``a`` replaced by their new ``keep`` paths."""
    if not ids.size:
        return state
    params = state.params
    a_stamp = pa.scalar(
        (pd.Timestamp(params.start_date) + pd.Timedelta(days=a)).to_datetime64(),
        pa.timestamp("us"),
    )
    index = np.flatnonzero(keep)
    renumber = {int(old): i for i, old in enumerate(index)}
    names = pa.array(ids)
    tables = {}
    for name, table, frame in (
        ("transactions", state.transactions, new.transactions),
        ("events", state.events, new.events),
    ):
        mine = frame[frame["customer"].isin(index)].copy()
        mine["customer"] = mine["customer"].map(renumber)
        hit = pc.and_(
            pc.is_in(table["customer_id"], names), pc.greater_equal(table["timestamp"], a_stamp)
        )
        kept = table.filter(pc.invert(hit))
        if name == "transactions":
            kept = pa.concat_tables([kept, paths.kept_refunds(table, hit, a_stamp)])
        fresh = _to_arrow(mine, names, params)
        if name == "transactions":
            fresh = _numbered(fresh, table)
        merged = pa.concat_tables([kept, fresh.select(table.column_names).cast(table.schema)])
        tables[name] = merged.take(pc.sort_indices(merged["timestamp"]))
    return state.with_changes(transactions=tables["transactions"], events=tables["events"])


def _numbered(fresh: pa.Table, table: pa.Table) -> pa.Table:
    """New rows with transaction ids after the largest one of ``table``."""
    largest = pc.max(table["transaction_id"]).as_py() or "T0"
    first = int(largest[1:]) + 1
    numbers = pa.array(np.arange(first, first + fresh.num_rows))
    padded = pc.utf8_lpad(pc.cast(numbers, pa.string()), width=10, padding="0")
    return fresh.add_column(0, "transaction_id", pc.binary_join_element_wise("T", padded, ""))
