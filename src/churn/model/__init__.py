"""Cutoff roles, the LightGBM churn model with early stopping, optional tuning (docs/training.md).

Roles for a target date ``A`` (the date the model will be applied at): the *calibration cutoff*
is the latest labelled cutoff whose label window ends by ``A``; the *training cutoffs* come
before it. Evaluation uses ``A`` = the latest labelled cutoff, which is the test set; the
deployment refit moves the same recipe (as many training cutoffs) forward to ``A`` = the data
end. Early stopping uses a holdout of whole customers drawn from the training rows, so no
customer is on both sides.

The fitted model is a scikit-learn :class:`~sklearn.pipeline.Pipeline`: an encoder of the
categorical features (``lifecycle_stage``) followed by an ``LGBMClassifier``. It takes the
feature columns as a DataFrame, so the same object serves the bundle, MLflow and scoring.
"""

from churn.model.config import ModelConfig, TuningConfig
from churn.model.fit import (
    FittedLightGBM,
    booster,
    contributions,
    feature_columns,
    fit_lightgbm,
    holdout_customers,
    importance,
    lightgbm_pipeline,
    sample_customers,
    tune,
)
from churn.model.roles import KEY_COLUMNS, LABEL, CutoffRoles, plan_roles

__all__ = [
    "KEY_COLUMNS",
    "LABEL",
    "CutoffRoles",
    "FittedLightGBM",
    "ModelConfig",
    "TuningConfig",
    "booster",
    "contributions",
    "feature_columns",
    "fit_lightgbm",
    "holdout_customers",
    "importance",
    "lightgbm_pipeline",
    "plan_roles",
    "sample_customers",
    "tune",
]
