"""Metrics and plots that compare churn scorers (the model and its baselines) on labelled rows.

``y`` holds 0/1 labels (1 = churned) and ``p`` predicted churn probabilities in ``[0, 1]``.
:mod:`~churn.evaluation.metrics` holds the pure metrics; the plots (:mod:`~churn.evaluation.curves`,
:mod:`~churn.evaluation.explanations`) build a matplotlib :class:`Figure` with the object-oriented
API (no pyplot, no backend, no global state), and only :func:`save_figure` writes a file.
:mod:`~churn.evaluation.clv_check` sets the value model's predicted purchases and spend beside a
held-back window (the model card's CLV check, drawn by :mod:`~churn.evaluation.clv_plot`).
"""

from churn.evaluation.clv_check import ClvCheck, clv_check
from churn.evaluation.clv_plot import plot_clv_check
from churn.evaluation.curves import (
    plot_cumulative_gain,
    plot_precision_recall,
    plot_reliability,
    plot_roc,
)
from churn.evaluation.explanations import (
    plot_feature_importance,
    plot_score_distribution,
    plot_shap_summary,
)
from churn.evaluation.figures import save_figure
from churn.evaluation.metrics import (
    DEFAULT_TOP_FRACTIONS,
    METRIC_DIRECTIONS,
    Curves,
    classification_metrics,
    compare_scorers,
    expected_calibration_error,
    is_better,
    lift_and_capture,
)
from churn.evaluation.slices import main_channels, segments, slice_metrics, with_main_channel

__all__ = [
    "DEFAULT_TOP_FRACTIONS",
    "METRIC_DIRECTIONS",
    "ClvCheck",
    "Curves",
    "classification_metrics",
    "clv_check",
    "compare_scorers",
    "expected_calibration_error",
    "is_better",
    "lift_and_capture",
    "main_channels",
    "plot_clv_check",
    "plot_cumulative_gain",
    "plot_feature_importance",
    "plot_precision_recall",
    "plot_reliability",
    "plot_roc",
    "plot_score_distribution",
    "plot_shap_summary",
    "save_figure",
    "segments",
    "slice_metrics",
    "with_main_channel",
]
