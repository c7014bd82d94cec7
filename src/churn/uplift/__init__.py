"""Uplift modelling of retention offers: which customers an offer keeps, and how to measure it.

Sign convention, everywhere in this package: the outcome is churn (1 = churned, no purchase in
the outcome window), and the **uplift** of an offer is

    uplift = P(churn | no offer) - P(churn | offer),

so a positive uplift means the offer keeps customers and a negative one that it drives them
away. Rows treated with offer ``k`` carry ``treatment == k`` (the offer's name); control rows
(no offer) carry a missing treatment. Row weights are inverse assignment probabilities and
default to 1.

* :mod:`churn.uplift.learners`: T- and X-learners on LightGBM (:func:`fit_uplift`).
* :mod:`churn.uplift.model`: the fitted :class:`UpliftModel`, its predictions and its files.
* :mod:`churn.uplift.metrics`: Qini and uplift curves, uplift among the top-scored customers.
* :mod:`churn.uplift.history`: the randomised customers of past campaigns, with features and
  outcomes, from the exports and the data.
* :mod:`churn.uplift.evaluation`: out-of-time evaluation against risk targeting, the gate.
* :mod:`churn.uplift.training`: evaluate, refit, store (``pipelines.uplift``).
* :mod:`churn.uplift.store`: the uplift model store (versions, champion, digests).
* :mod:`churn.uplift.targeting`: the planner's effect matrix for ``offers.objective: uplift``.
"""

from churn.uplift.evaluation import Evaluation
from churn.uplift.history import Campaign, campaign_history
from churn.uplift.learners import UpliftParams, fit_uplift
from churn.uplift.metrics import auuc, qini_coefficient, qini_curve, uplift_at_top, uplift_summary
from churn.uplift.model import LEARNERS, UpliftModel
from churn.uplift.settings import UpliftConfig
from churn.uplift.store import StoredUplift, UpliftStore
from churn.uplift.training import UpliftTraining, store_uplift, train_uplift

__all__ = [
    "LEARNERS",
    "Campaign",
    "Evaluation",
    "StoredUplift",
    "UpliftConfig",
    "UpliftModel",
    "UpliftParams",
    "UpliftStore",
    "UpliftTraining",
    "auuc",
    "campaign_history",
    "fit_uplift",
    "qini_coefficient",
    "qini_curve",
    "store_uplift",
    "train_uplift",
    "uplift_at_top",
    "uplift_summary",
]
