"""Baselines: direction on a planted signal, BG/NBD per cutoff without labels, input checks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn import btyd
from churn.baselines import (
    BASELINE_NAMES,
    BGNBDBaseline,
    RecencyBaseline,
    RFMLogisticBaseline,
    fit_baselines,
)
from churn.errors import DataError

CUTOFFS = (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01"))
H = 90
WEEKS = btyd.BGNBDParams(r=0.25, alpha=4.0, a=0.8, b=2.5)


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Feature rows with churn rising with recency and falling with frequency."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 365, n).round()
    frequency = rng.poisson(3, n) + 1
    logit = (recency - 150) / 40 - 0.5 * (frequency - 3)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "cutoff": CUTOFFS[0],
            "recency_days": recency,
            "frequency": frequency,
            "tenure_days": recency + rng.uniform(0, 700, n).round(),
            "monetary_sum": frequency * rng.gamma(2.0, 20.0, n),
            "monetary_mean": rng.gamma(2.0, 20.0, n),
            "churned": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def _bgnbd_frame() -> pd.DataFrame:
    """Simulated BG/NBD summaries (weeks) as feature rows (days), 2000 customers per cutoff."""
    parts = []
    for i, cutoff in enumerate(CUTOFFS):
        t_end = np.random.default_rng(100 + i).uniform(30, 80, 2000)
        x, t_x, t_end = btyd.simulate_bgnbd(WEEKS, n=2000, T=t_end, seed=i)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{j}" for j in range(2000)],
                    "cutoff": cutoff,
                    "recency_days": (t_end - t_x) * 7,
                    "frequency": x + 1,
                    "tenure_days": t_end * 7,
                    "monetary_sum": (x + 1) * 25.0,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return _frame(3000, seed=0)


def test_recency_baseline_rises_with_recency(train: pd.DataFrame) -> None:
    model = RecencyBaseline().fit(train, train["churned"])
    grid = pd.DataFrame({"recency_days": np.linspace(0, 600, 301)})  # past the training range

    p = model.predict(grid)

    assert ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p) >= 0).all()
    assert p[-1] - p[0] > 0.5
    test = _frame(2000, seed=1)
    assert roc_auc_score(test["churned"], model.predict(test)) > 0.75


def test_rfm_logistic_baseline_ranks_silent_rare_buyer_higher(train: pd.DataFrame) -> None:
    model = RFMLogisticBaseline(seed=0).fit(train, train["churned"])
    customers = pd.DataFrame(
        {
            "recency_days": [300.0, 5.0],
            "frequency": [1.0, 10.0],
            "monetary_mean": [20.0, 50.0],
            "tenure_days": [400.0, 400.0],
        }
    )

    silent_rare, recent_frequent = model.predict(customers)

    assert 0 <= recent_frequent < silent_rare <= 1
    assert silent_rare - recent_frequent > 0.5
    test = _frame(2000, seed=1)
    assert roc_auc_score(test["churned"], model.predict(test)) > 0.75


def test_bgnbd_baseline_fits_per_cutoff_without_labels() -> None:
    frame = _bgnbd_frame()
    model = BGNBDBaseline(horizon_days=H)

    p = model.predict(frame)

    assert p.shape == (len(frame),)
    assert ((p >= 0) & (p <= 1)).all()
    assert set(model.fitted) == set(CUTOFFS)
    assert all(isinstance(v, btyd.BGNBDParams) for v in model.fitted.values())
    assert model.fitted[CUTOFFS[0]] != model.fitted[CUTOFFS[1]]


def test_bgnbd_baseline_ranks_recent_buyer_below_lapsed_one() -> None:
    model = BGNBDBaseline(horizon_days=H)
    model.predict(_bgnbd_frame())
    fitted = dict(model.fitted)
    same_x = pd.DataFrame(
        {
            "cutoff": [CUTOFFS[0], CUTOFFS[0]],
            "frequency": [6, 6],  # x = 5 repeat purchases
            "tenure_days": [364.0, 364.0],
            "recency_days": [7.0, 280.0],  # last bought a week ago / forty weeks ago
        }
    )

    recent, lapsed = model.predict(same_x)

    assert model.fitted == fitted  # the cutoff's parameters are reused, not refitted
    assert 0 <= recent < lapsed <= 1
    assert lapsed - recent > 0.3


@pytest.mark.parametrize(
    ("baseline_class", "drop", "missing"),
    [
        (RecencyBaseline, ["recency_days"], "['recency_days']"),
        (RFMLogisticBaseline, ["frequency", "monetary_mean"], "['frequency', 'monetary_mean']"),
    ],
    ids=["recency", "rfm_logistic"],
)
def test_fit_rejects_missing_columns(
    train: pd.DataFrame,
    baseline_class: type[RecencyBaseline] | type[RFMLogisticBaseline],
    drop: list[str],
    missing: str,
) -> None:
    with pytest.raises(DataError, match=rf"fit: expected feature columns {re.escape(missing)}"):
        baseline_class().fit(train.drop(columns=drop), train["churned"])


def test_predict_rejects_missing_columns(train: pd.DataFrame) -> None:
    recency = RecencyBaseline().fit(train, train["churned"])
    rfm = RFMLogisticBaseline().fit(train, train["churned"])
    frame = train.drop(columns=["recency_days"])

    with pytest.raises(DataError, match=r"RecencyBaseline\.predict: .*\['recency_days'\]"):
        recency.predict(frame)
    with pytest.raises(DataError, match=r"RFMLogisticBaseline\.predict: .*\['recency_days'\]"):
        rfm.predict(frame)


def test_bgnbd_baseline_rejects_missing_columns(train: pd.DataFrame) -> None:
    model = BGNBDBaseline(horizon_days=H)

    with pytest.raises(DataError, match=r"expected feature columns \['tenure_days'\]"):
        model.predict(train.drop(columns=["tenure_days"]))
    with pytest.raises(DataError, match=r"expected a 'cutoff' column"):
        model.predict(train.drop(columns=["cutoff"]))
    assert model.fitted == {}


@pytest.mark.parametrize("baseline_class", [RecencyBaseline, RFMLogisticBaseline])
@pytest.mark.parametrize("label", [0, 1])
def test_fit_rejects_single_class_labels(
    train: pd.DataFrame,
    baseline_class: type[RecencyBaseline] | type[RFMLogisticBaseline],
    label: int,
) -> None:
    with pytest.raises(DataError, match=rf"both churned and retained rows; all are {label}"):
        baseline_class().fit(train, np.full(len(train), label))


@pytest.mark.parametrize(
    "labels",
    [np.array([0, 1, 2]), np.array([0.0, 1.0, np.nan]), np.array([0, 1])],
    ids=["not_binary", "nan", "wrong_length"],
)
def test_fit_rejects_invalid_labels(labels: np.ndarray) -> None:
    frame = _frame(3, seed=2)

    with pytest.raises(DataError, match=r"expected 3 labels of 0/1"):
        RFMLogisticBaseline().fit(frame, labels)


def test_fit_baselines_returns_every_baseline(train: pd.DataFrame) -> None:
    baselines = fit_baselines(train, train["churned"], horizon_days=H)

    assert tuple(baselines) == BASELINE_NAMES == ("recency", "rfm_logistic", "bgnbd")
    assert all(b.name == name for name, b in baselines.items())
    bgnbd = baselines["bgnbd"]
    assert isinstance(bgnbd, BGNBDBaseline)
    assert bgnbd.horizon_days == H
    assert bgnbd.fitted == {}  # fitted per cutoff when it first predicts
    for name in ("recency", "rfm_logistic"):
        p = baselines[name].predict(train)
        assert p.shape == (len(train),)
        assert ((p >= 0) & (p <= 1)).all()


def test_fit_baselines_rejects_single_class_labels(train: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"RecencyBaseline\.fit"):
        fit_baselines(train, np.zeros(len(train), dtype=int), horizon_days=H)
