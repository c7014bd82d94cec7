"""The evaluation plots, checked as built figures; save_figure as files."""

from __future__ import annotations

import math
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    roc_auc_score,
)

from churn import evaluation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _scored(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a planted signal: ``p`` is the true churn probability of each row."""
    rng = np.random.default_rng(seed)
    p = 1.0 / (1.0 + np.exp(-rng.normal(-1.0, 1.5, n)))
    y = (rng.random(n) < p).astype(int)
    return y, p


@pytest.fixture
def curves() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    y, p = _scored()
    rng = np.random.default_rng(1)
    # "model" comes last on purpose: the plots must still draw it first.
    return {
        "recency": (y, np.clip(p + rng.normal(0, 0.25, p.size), 0, 1)),
        "random": (y, rng.random(p.size)),
        "model": (y, p),
    }


# --- plots -----------------------------------------------------------------------------------


def _legend_texts(fig: Figure, axes_index: int = 0) -> list[str]:
    legend = fig.axes[axes_index].get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


def test_plot_roc_model_first_with_auc(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    fig = evaluation.plot_roc(curves)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # three scorers and the chance diagonal
    texts = _legend_texts(fig)
    auc = roc_auc_score(*curves["model"])
    assert texts[0] == f"model (AUC {auc:.3f})"
    assert texts[1].startswith("recency (AUC ")
    assert ax.lines[0].get_linewidth() > ax.lines[1].get_linewidth()
    assert ax.get_title() == "ROC curve"


def test_plot_roc_rejects_single_class_curve() -> None:
    with pytest.raises(ValueError, match=r"plot_roc: curves\['model'\] needs both churned"):
        evaluation.plot_roc({"model": ([0, 0, 0], [0.1, 0.2, 0.3])})


def test_plot_roc_rejects_no_curves() -> None:
    with pytest.raises(ValueError, match=r"plot_roc: expected at least one curve"):
        evaluation.plot_roc({})


def test_plot_roc_rejects_non_pair() -> None:
    with pytest.raises(ValueError, match=r"must be a \(y, p\) pair"):
        evaluation.plot_roc({"model": ([0, 1], [0.1, 0.9], [1, 1])})  # type: ignore[dict-item]


def test_plot_precision_recall_base_rate_and_ap(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    fig = evaluation.plot_precision_recall(curves)
    ax = fig.axes[0]
    assert len(ax.lines) == 4
    texts = _legend_texts(fig)
    ap = average_precision_score(*curves["model"])
    assert texts[0] == f"model (AP {ap:.3f})"
    base_rate = curves["model"][0].mean()
    assert ax.lines[-1].get_ydata()[0] == pytest.approx(base_rate)  # type: ignore[index]


def test_plot_precision_recall_rejects_no_churners() -> None:
    with pytest.raises(ValueError, match=r"needs at least one churned row; got 0 churned of 2"):
        evaluation.plot_precision_recall({"model": ([0, 0], [0.1, 0.2])})


def test_plot_reliability_two_axes_with_ece(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    fig = evaluation.plot_reliability(curves, n_bins=8)
    assert len(fig.axes) == 2
    top, bottom = fig.axes
    assert len(top.lines) == 4
    ece = evaluation.expected_calibration_error(*curves["model"], n_bins=8)
    assert _legend_texts(fig)[0] == f"model (ECE {ece:.3f})"
    assert len(bottom.patches) == 8
    heights = [patch.get_height() for patch in bottom.patches]  # type: ignore[attr-defined]
    assert sum(heights) == curves["model"][0].size


def test_plot_reliability_rejects_zero_bins(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    with pytest.raises(ValueError, match=r"plot_reliability: n_bins must be"):
        evaluation.plot_reliability(curves, n_bins=0)


def test_plot_cumulative_gain_lines(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    fig = evaluation.plot_cumulative_gain(curves)
    ax = fig.axes[0]
    assert len(ax.lines) == 5  # three scorers, random and perfect
    model = ax.lines[0]
    assert model.get_xdata()[-1] == 1.0  # type: ignore[index]
    assert model.get_ydata()[-1] == pytest.approx(1.0)  # type: ignore[index]
    texts = _legend_texts(fig)
    assert texts[0].startswith("model (")
    assert texts[-2:] == ["contact at random", "perfect ranking"]


def test_plot_cumulative_gain_rejects_no_churners() -> None:
    with pytest.raises(ValueError, match=r"plot_cumulative_gain: curves\['model'\] needs"):
        evaluation.plot_cumulative_gain({"model": ([0, 0], [0.1, 0.2])})


def test_plot_feature_importance_largest_on_top() -> None:
    importance = {"recency": 5.0, "tenure": 1.0, "frequency": 3.0, "spend": 2.0, "refunds": 0.5}
    fig = evaluation.plot_feature_importance(importance, top=3)
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    ticks = sorted(
        zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True),
        reverse=True,
    )
    assert [name for _, name in ticks] == ["recency", "frequency", "spend"]


@pytest.mark.parametrize(
    ("importance", "top", "message"),
    [
        ({}, 5, r"expected at least one feature"),
        ({"a": math.nan}, 5, r"importances must be finite; got non-finite for \['a'\]"),
        ({"a": 1.0}, 0, r"top must be a whole number >= 1; got 0"),
    ],
)
def test_plot_feature_importance_rejects_invalid(
    importance: dict[str, float], top: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluation.plot_feature_importance(importance, top=top)


def _shap_inputs() -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(6)
    n = 200
    values = pd.DataFrame(
        {
            "recency": rng.exponential(30, n),
            "plan": rng.choice(["basic", "plus"], n),
            "spend": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 50, n)),
        }
    )
    contributions = np.column_stack(
        [rng.normal(0, 1.0, n), rng.normal(0, 0.1, n), rng.normal(0, 0.5, n)]
    )
    return contributions, values


def test_plot_shap_summary_orders_and_colours_features() -> None:
    contributions, values = _shap_inputs()
    fig = evaluation.plot_shap_summary(contributions, values)
    assert len(fig.axes) == 2  # the summary and its colorbar
    ax, colorbar = fig.axes
    assert colorbar.get_ylabel() == "feature value (low to high)"
    assert ax.get_xlabel() == "contribution to churn log-odds (SHAP)"
    ticks = sorted(
        zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True),
        reverse=True,
    )
    assert [name for _, name in ticks] == ["recency", "spend", "plan"]
    # recency: all coloured; spend: coloured plus grey NaNs; plan (text): grey only
    assert len(ax.collections) == 4
    points = sum(np.asarray(c.get_offsets()).shape[0] for c in ax.collections)
    assert points == contributions.size


def test_plot_shap_summary_is_deterministic() -> None:
    contributions, values = _shap_inputs()
    first = evaluation.plot_shap_summary(contributions, values, top=2).axes[0]
    second = evaluation.plot_shap_summary(contributions, values, top=2).axes[0]
    assert len(first.collections) == 3
    for a, b in zip(first.collections, second.collections, strict=True):
        np.testing.assert_array_equal(a.get_offsets(), b.get_offsets())


def test_plot_shap_summary_rejects_shape_mismatch() -> None:
    contributions, values = _shap_inputs()
    with pytest.raises(ValueError, match=r"plot_shap_summary: contributions must have the shape"):
        evaluation.plot_shap_summary(contributions[:, :2], values)


def test_plot_score_distribution_two_groups() -> None:
    y, p = _scored()
    fig = evaluation.plot_score_distribution(y, p, bins=10)
    texts = _legend_texts(fig)
    assert texts == [
        f"stayed ({(y == 0).sum():,} customers)",
        f"churned ({(y == 1).sum():,} customers)",
    ]


def test_plot_score_distribution_single_group() -> None:
    fig = evaluation.plot_score_distribution([0, 0, 0], [0.1, 0.2, 0.3])
    assert _legend_texts(fig) == ["stayed (3 customers)"]


def test_plot_score_distribution_rejects_invalid() -> None:
    with pytest.raises(ValueError, match=r"plot_score_distribution: bins must be"):
        evaluation.plot_score_distribution([0, 1], [0.1, 0.9], bins=0)
    with pytest.raises(ValueError, match=r"plot_score_distribution: p must be finite"):
        evaluation.plot_score_distribution([0, 1], [0.1, 1.9])


# --- save_figure -----------------------------------------------------------------------------


def _small_figure() -> Figure:
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    return fig


def test_save_figure_writes_png_atomically(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "figures" / "roc.png"
    written = evaluation.save_figure(_small_figure(), str(target))
    assert written == target
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [path.name for path in target.parent.iterdir()] == ["roc.png"]
    evaluation.save_figure(_small_figure(), target)  # replacing works too
    assert [path.name for path in target.parent.iterdir()] == ["roc.png"]


def test_save_figure_rejects_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"save_figure: path must end in .png; got '.*roc.pdf'"):
        evaluation.save_figure(_small_figure(), tmp_path / "roc.pdf")
    assert list(tmp_path.iterdir()) == []


def test_save_figure_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fig = _small_figure()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        evaluation.save_figure(fig, tmp_path / "roc.png")
    assert list(tmp_path.iterdir()) == []
