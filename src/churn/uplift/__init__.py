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
"""

from churn.uplift.learners import UpliftParams, fit_uplift
from churn.uplift.metrics import auuc, qini_coefficient, qini_curve, uplift_at_top, uplift_summary
from churn.uplift.model import LEARNERS, UpliftModel

__all__ = [
    "LEARNERS",
    "UpliftModel",
    "UpliftParams",
    "auuc",
    "fit_uplift",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_top",
    "uplift_summary",
]
