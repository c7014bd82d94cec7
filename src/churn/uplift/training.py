"""Training the uplift model from past campaigns: evaluate out of time, refit, gate, store.

:func:`train_uplift` takes the randomised customers of the measured campaigns
(:func:`churn.uplift.history.campaign_history`), evaluates the learner on the latest campaign
after fitting it on the earlier ones (:mod:`churn.uplift.evaluation`), refits it on every
campaign and returns the model with the manifest the store keeps; :func:`store_uplift` adds
it to the store and makes it champion only when the gate passed. With too little history
(``uplift.min_campaigns``, ``uplift.min_rows_per_offer``) there is no model: the result says
why and the plan stays risk-based.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn import offers
from churn.bundle.store import library_versions
from churn.uplift import evaluation, history
from churn.uplift.learners import UpliftModel
from churn.uplift.settings import UpliftConfig
from churn.uplift.store import UpliftStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpliftTraining:
    """The outcome of one uplift training.

    Attributes:
        status: ``trained`` (a model, gate passed or not) or ``insufficient_history``.
        reason: the gate's reason, or why there is no model.
        model: the refitted model (None without one).
        evaluation: the out-of-time evaluation (None without a model).
        manifest: what the store records beside the model files.
    """

    status: str
    reason: str
    model: UpliftModel | None = None
    evaluation: evaluation.Evaluation | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the planner may use the model."""
        return self.evaluation is not None and self.evaluation.passed


def train_uplift(
    campaigns: Sequence[history.Campaign],
    config: UpliftConfig,
    catalog: Sequence[offers.Offer],
    *,
    seed: int,
    churn_model: Mapping[str, Any],
) -> UpliftTraining:
    """Evaluate, refit and describe the uplift model, or say why there is none.

    Args:
        campaigns: the measured campaigns' randomised customers, oldest first.
        config: the ``uplift`` node.
        catalog: the offers (the evaluation's eligibility rules).
        seed: seeds every LightGBM model.
        churn_model: what the features came from: the churn model's ``version``, ``horizon_days``
            and feature settings (``features``), kept in the manifest.
    """
    why = evaluation.too_little_history(campaigns, config)
    if why is not None:
        log.warning(
            "uplift: too little campaign history: %s. No uplift model; offers.objective=uplift "
            "plans by net benefit until there is one",
            why,
        )
        return UpliftTraining("insufficient_history", why)
    evaluated = evaluation.evaluate(campaigns, config, catalog, seed=seed)
    model = evaluation.fit(campaigns, config, seed=seed)
    manifest = {
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "learner": model.learner,
        "per_offer": model.per_offer,
        "features": list(model.features),
        "offers": list(model.offers),
        "skipped_offers": dict(model.skipped),
        "campaigns": history.summary(campaigns),
        "evaluation": evaluated.to_dict(),
        "settings": config.to_dict(),
        "seed": seed,
        "churn_model": dict(churn_model),
        "libraries": library_versions(),
    }
    return UpliftTraining("trained", evaluated.reason, model, evaluated, manifest)


def store_uplift(trained: UpliftTraining, config: UpliftConfig) -> int | None:
    """Add the model to the store (champion when it passed the gate); its version, or None."""
    if trained.model is None:
        return None
    store = UpliftStore(config.model_dir)
    number = store.add_model(trained.model, trained.manifest, keep=config.keep_versions)
    if trained.passed:
        store.promote(number, reason=trained.reason)
    else:
        log.warning(
            "uplift: version %d is kept as a challenger, not served: %s", number, trained.reason
        )
    return number
