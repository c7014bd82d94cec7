"""Cutoff roles, the LightGBM churn model with early stopping, optional tuning (docs/training.md).

Roles for a target date ``A`` (the date the model will be applied at): the *calibration cutoff*
is the latest labelled cutoff whose label window ends by ``A``; the *training cutoffs* come
before it. Evaluation uses ``A`` = the latest labelled cutoff, which is the test set; the
deployment refit moves the same recipe (as many training cutoffs) forward to ``A`` = the data
end. Early stopping uses a holdout of whole customers drawn from the training rows, so no
customer is on both sides. On a history too short for a separate calibration (or test) cutoff
the calibrator is cross-fitted by customer on the training rows (:func:`cross_fit`) and the
roles say so (``calibration_mode``, ``evaluation_mode``).

Training fits a scikit-learn :class:`~sklearn.pipeline.Pipeline` (an encoder of the categorical
features, ``lifecycle_stage``, then an ``LGBMClassifier``) and calibrates it; the result is
converted to a :class:`ChurnModel` (category codes, LightGBM booster, calibrator parameters),
which is what is evaluated, stored without pickles, logged to MLflow and served.
"""

from churn.model.config import ModelConfig, TuningConfig
from churn.model.crossfit import (
    CrossFit,
    cross_fit,
    customer_folds,
    fit_calibrator,
    with_calibrator,
)
from churn.model.deployed import (
    BOOSTER_FILE,
    MODEL_JSON,
    Calibrator,
    ChurnModel,
    largest_difference,
)
from churn.model.fit import (
    FittedLightGBM,
    booster,
    contributions,
    feature_columns,
    fit_lightgbm,
    holdout_customers,
    importance,
    lightgbm_pipeline,
    tune,
)
from churn.model.roles import (
    CROSS_FITTED,
    IN_TIME,
    KEY_COLUMNS,
    LABEL,
    OUT_OF_TIME,
    CutoffRoles,
    history_message,
    plan_roles,
)

__all__ = [
    "BOOSTER_FILE",
    "CROSS_FITTED",
    "IN_TIME",
    "KEY_COLUMNS",
    "LABEL",
    "MODEL_JSON",
    "OUT_OF_TIME",
    "Calibrator",
    "ChurnModel",
    "CrossFit",
    "CutoffRoles",
    "FittedLightGBM",
    "ModelConfig",
    "TuningConfig",
    "booster",
    "contributions",
    "cross_fit",
    "customer_folds",
    "feature_columns",
    "fit_calibrator",
    "fit_lightgbm",
    "history_message",
    "holdout_customers",
    "importance",
    "largest_difference",
    "lightgbm_pipeline",
    "plan_roles",
    "tune",
    "with_calibrator",
]
