"""Scoring at an as-of date: probability, tier, value, offer, reasons (docs/scoring-and-offers.md).

:func:`score` takes the features of every buyer at the as-of date (the same
:func:`churn.features.build_features` as training), the bundle's model and manifest, and returns
one row per customer with a status:

* ``scored``: a purchase within the population window (``label.active_within_days`` of the
  bundle's training config) before the as-of date: churn probability, risk tier, value;
* ``lapsed``: bought before, but not within that window: a win-back target, no probability;
* ``no_purchase``: known (customers table, or only refunds) but never bought: an onboarding
  target.

Customers that cannot be scored (all their rows were rejected at load, or they only appear at
or after the as-of date) are listed in the rejects with a reason, so every customer seen in the
input is accounted for exactly once.
"""

from churn.scoring.as_of import resolve_as_of, warn_if_old
from churn.scoring.local import drift_of, plan_offers, score
from churn.scoring.options import ScoreOptions
from churn.scoring.population import Population, account_for_customers, buyers_before, population_at
from churn.scoring.predict import explain, predict
from churn.scoring.rows import AT_RISK_COLUMNS, SCORE_COLUMNS, at_risk_list
from churn.scoring.run import ScoringRun, log_headline, score_dataset
from churn.scoring.schema import check_schema
from churn.scoring.settings import ScoreConfig, ScoringOutcome
from churn.scoring.shadow import compare as compare_shadow
from churn.scoring.shadow import shadow_score
from churn.scoring.spark import (
    Finish,
    features_on_spark,
    score_batch,
    score_distributed,
    score_on_spark,
    write_partitioned,
    write_scores,
)
from churn.scoring.tiers import TIER_METHODS, TierConfig, assign_tiers

__all__ = [
    "AT_RISK_COLUMNS",
    "SCORE_COLUMNS",
    "TIER_METHODS",
    "Finish",
    "Population",
    "ScoreConfig",
    "ScoreOptions",
    "ScoringOutcome",
    "ScoringRun",
    "TierConfig",
    "account_for_customers",
    "assign_tiers",
    "at_risk_list",
    "buyers_before",
    "check_schema",
    "compare_shadow",
    "drift_of",
    "explain",
    "features_on_spark",
    "log_headline",
    "plan_offers",
    "population_at",
    "predict",
    "resolve_as_of",
    "score",
    "score_batch",
    "score_dataset",
    "score_distributed",
    "score_on_spark",
    "shadow_score",
    "warn_if_old",
    "write_partitioned",
    "write_scores",
]
