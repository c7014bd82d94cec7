"""Shadow scoring: the challenger scored beside the champion, compared, never exported.

With ``score.shadow=latest`` (or a version number) a scoring run also scores the model store's
latest version with the same data and as-of date, through the same :func:`score_dataset` (so a
challenger trained with other settings builds its own features), without reasons and without
failing on drift. Its list is not exported; the export manifest's ``shadow`` record compares the
two on the customers both scored:

- the score distributions (mean and the 10th, 50th and 90th percentiles);
- Spearman's rank correlation of the probabilities;
- the tier moves (champion tier -> challenger tier counts) and the share that changed tier;
- the overlap of the two at-risk lists (Jaccard index).

A data scientist reads it before promoting the challenger with ``pipelines.promote``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from churn.bundle import Bundle
from churn.data import Dataset
from churn.scoring.options import ScoreOptions
from churn.scoring.run import ScoringRun, score_dataset

log = logging.getLogger(__name__)


def _distribution(p: np.ndarray) -> dict[str, float]:
    q10, q50, q90 = np.quantile(p, [0.1, 0.5, 0.9]) if len(p) else (np.nan,) * 3
    return {
        "mean": float(np.mean(p)) if len(p) else float("nan"),
        "p10": float(q10),
        "p50": float(q50),
        "p90": float(q90),
    }


def compare(
    champion: pd.DataFrame,
    challenger: pd.DataFrame,
    *,
    at_risk_tiers: tuple[str, ...],
) -> dict[str, Any]:
    """The comparison record of two scoring runs' scores (``customer_id``,
    ``churn_probability``, ``risk_tier``), on the customers both scored."""
    columns = ["customer_id", "churn_probability", "risk_tier"]
    both = champion[columns].merge(
        challenger[columns], on="customer_id", suffixes=("_champion", "_challenger")
    )
    both = both.dropna(subset=["churn_probability_champion", "churn_probability_challenger"])
    ours = both["churn_probability_champion"].to_numpy(dtype=float)
    theirs = both["churn_probability_challenger"].to_numpy(dtype=float)
    rho = float(spearmanr(ours, theirs).statistic) if len(both) > 1 else float("nan")
    old_tier = both["risk_tier_champion"].astype("string").fillna("none")
    new_tier = both["risk_tier_challenger"].astype("string").fillna("none")
    moves = pd.crosstab(old_tier, new_tier)
    old_risk = set(both.loc[old_tier.isin(at_risk_tiers).to_numpy(), "customer_id"])
    new_risk = set(both.loc[new_tier.isin(at_risk_tiers).to_numpy(), "customer_id"])
    union = old_risk | new_risk
    return {
        "customers": len(both),
        "champion": _distribution(ours),
        "challenger": _distribution(theirs),
        "spearman": rho,
        "tier_moves": {
            str(a): {str(b): int(moves.loc[a, b]) for b in moves.columns if moves.loc[a, b]}
            for a in moves.index
        },
        "changed_tier": float((old_tier != new_tier).mean()) if len(both) else float("nan"),
        "at_risk_overlap": len(old_risk & new_risk) / len(union) if union else float("nan"),
    }


def shadow_score(
    dataset: Dataset,
    champion: ScoringRun,
    challenger: Bundle,
    options: ScoreOptions,
    engine_config: Mapping[str, Any],
    as_of: Any,
    *,
    end_date: Any = None,
) -> dict[str, Any] | None:
    """Score ``challenger`` like ``champion`` was scored and compare the two (None when the
    champion's scores are not held in memory, as with ``score.distributed``)."""
    if champion.scores is None:
        log.warning("shadow scoring needs the scores in memory; skipped with score.distributed")
        return None
    quiet = dataclasses.replace(options, reasons_for="none", fail_on_drift=False)
    shadow = score_dataset(dataset, challenger, quiet, engine_config, as_of, end_date=end_date)
    if shadow.scores is None:
        return None
    record = compare(champion.scores, shadow.scores, at_risk_tiers=tuple(options.tiers.at_risk))
    record["version"] = challenger.path.name
    record["test_metrics"] = dict(challenger.manifest.metrics)
    record["drift"] = dict(shadow.drift)
    log.info(
        "shadow: version %s beside the champion on %d customers: Spearman %.3f, %.1f%% change "
        "tier, at-risk overlap %.2f",
        record["version"],
        record["customers"],
        record["spearman"],
        100 * record["changed_tier"],
        record["at_risk_overlap"],
    )
    return record
