"""What past campaigns achieved against their control groups, and how the predictions held up.

Once an export's outcome window ``[as_of, as_of + H)`` has passed, :func:`due_exports` reads it
back (never writing it), :func:`observe` and :func:`measure_campaign` join what happened in the
window (churned = no purchase in it, by the label code) and measure, per offer and per offer
and risk tier, the contacted arm against the control group of the same offer (intention to
treat: :mod:`~churn.outcomes.measure`), the plan's realised value against the value it
expected, and the model's realised quality on the customers nobody contacted
(:mod:`~churn.outcomes.performance`), and the exit reasons the customers gave
(:mod:`~churn.outcomes.exits`); :func:`write_outcomes` writes
``<outcomes.dir>/<as_of>/`` atomically. See docs/outcomes.md.
"""

from churn.outcomes.campaign import OUTCOMES_SCHEMA_VERSION, CampaignOutcome, measure_campaign
from churn.outcomes.exits import (
    Answers,
    ExitReasons,
    exit_reasons,
    reason_family,
    survey_answers,
)
from churn.outcomes.exports import (
    EARLIER,
    PastExport,
    due_exports,
    export_folders,
    named_folder,
    read_export,
    read_manifest,
    read_scores,
    read_top_reasons,
)
from churn.outcomes.files import (
    BY_OFFER,
    BY_OFFER_TIER,
    EXIT_REASONS,
    PERFORMANCE_BY_TIER,
    SUMMARY,
    outcome_folder,
    write_outcomes,
)
from churn.outcomes.measure import (
    CELL_COLUMNS,
    TOTAL,
    analysed,
    itt_table,
    measure_cell,
    required_control,
    risk_ratio_interval,
    total_row,
)
from churn.outcomes.performance import Performance, realised_performance, uncontacted
from churn.outcomes.realised import Observed, join_outcomes, observe, window_outcomes
from churn.outcomes.settings import ATTRIBUTE, EXCLUDE, OVERLAP, OutcomeConfig

__all__ = [
    "ATTRIBUTE",
    "BY_OFFER",
    "BY_OFFER_TIER",
    "CELL_COLUMNS",
    "EARLIER",
    "EXCLUDE",
    "EXIT_REASONS",
    "OUTCOMES_SCHEMA_VERSION",
    "OVERLAP",
    "PERFORMANCE_BY_TIER",
    "SUMMARY",
    "TOTAL",
    "Answers",
    "CampaignOutcome",
    "ExitReasons",
    "Observed",
    "OutcomeConfig",
    "PastExport",
    "Performance",
    "analysed",
    "due_exports",
    "exit_reasons",
    "export_folders",
    "itt_table",
    "join_outcomes",
    "measure_campaign",
    "measure_cell",
    "named_folder",
    "observe",
    "outcome_folder",
    "read_export",
    "read_manifest",
    "read_scores",
    "read_top_reasons",
    "realised_performance",
    "reason_family",
    "required_control",
    "risk_ratio_interval",
    "survey_answers",
    "total_row",
    "uncontacted",
    "window_outcomes",
    "write_outcomes",
]
