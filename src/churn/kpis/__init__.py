"""Retention KPIs for reports: customer base flow, churn, retention, orders, NPS and cohorts.

Definitions are in docs/report.md. A *purchase* is a transaction with a positive
amount; refunds never count as activity. Periods are calendar months (``"M"``), quarters
(``"Q"``) or years (``"Y"``, alias ``"A"``).

``end`` is exclusive everywhere: the data are the rows with ``timestamp < end``, and rows at or
after ``end`` are ignored, as if the data stopped there. It defaults to the day after the last
transaction (the same convention as :func:`churn.labels.data_end`).

A customer is *acquired* in the period of their first purchase ever. A customer is *lost* in the
period in which their last purchase (before ``end``) falls, provided the data extend at least
``churn_after_days`` past that purchase (``end - last purchase >= churn_after_days``); until then
they still count as customers, since a recent buyer may come back. The customer base at a
period's start ``S`` is every customer acquired before the period who is not yet lost, so the
customers at the end ``E = S + N - lost`` (``N`` acquired during the period) are the next
period's ``S``.
"""

from churn.kpis.cohorts import cohort_retention, retention_curve
from churn.kpis.inputs import EVENT_COLUMNS, NPS_GROUPS, PERIOD_COLUMNS, TRANSACTION_COLUMNS
from churn.kpis.nps import churn_by_nps_group, nps, nps_by_period
from churn.kpis.periods import period_kpis, summary_kpis

__all__ = [
    "EVENT_COLUMNS",
    "NPS_GROUPS",
    "PERIOD_COLUMNS",
    "TRANSACTION_COLUMNS",
    "churn_by_nps_group",
    "cohort_retention",
    "nps",
    "nps_by_period",
    "period_kpis",
    "retention_curve",
    "summary_kpis",
]
