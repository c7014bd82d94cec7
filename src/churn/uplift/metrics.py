"""How well an uplift score ranks customers for one offer: Qini and uplift curves, top uplift.

Every function compares the rows treated with one offer against the untreated (control) rows.
The curves count customers *kept*, with retention ``y = 1 - churned``, so a score that puts the
customers the offer keeps first (a high uplift, in the package's sign convention
``P(churn | no offer) - P(churn | offer)``) rises steeply.

Rows are ordered by score, highest first; rows with equal scores form one cut of the curve
(targeting half of a tie is not a decision a score can make), so a constant score gives the
straight line of random targeting. Weights (inverse assignment probabilities) count a row that
many times: a weight-2 row is the same as the row twice, and shares are shares of the total
weight.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from churn.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Rows:
    """Checked inputs: scores, retention (1 = kept), treated flags, weights."""

    score: np.ndarray
    kept: np.ndarray
    treated: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class _Cuts:
    """Weighted running sums at each cut of the ranking, starting with the empty cut."""

    share: np.ndarray
    n_treated: np.ndarray
    kept_treated: np.ndarray
    n_control: np.ndarray
    kept_control: np.ndarray
    total: float


def _floats(values: ArrayLike, where: str, name: str) -> np.ndarray:
    """A 1-D float array (missing values become NaN), or a DataError naming the input."""
    if np.ndim(values) != 1:
        raise DataError(f"{where}: expected a 1-D {name}; got shape {np.shape(values)}")
    try:
        return pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: expected numbers in {name}; got {err}") from err


def _flags(values: ArrayLike, where: str) -> np.ndarray:
    """Treated flags as a boolean array: booleans, or numbers that are all 0 or 1."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{where}: expected a 1-D treated; got shape {array.shape}")
    if array.dtype == np.bool_:
        return array
    if np.issubdtype(array.dtype, np.number) and np.isin(array, (0, 1)).all():
        return array.astype(bool)
    shown = pd.unique(pd.Series(array, dtype=object))[:5].tolist()
    raise DataError(
        f"{where}: expected treated to be booleans (True = treated with the offer); "
        f"got {array.dtype} values such as {shown}"
    )


def _rows(
    where: str,
    score: ArrayLike,
    churned: ArrayLike,
    treated: ArrayLike,
    weights: ArrayLike | None,
) -> _Rows:
    """Check the inputs of every metric: lengths, values, and at least one row in each arm."""
    s = _floats(score, where, "score")
    y = _floats(churned, where, "churned")
    t = _flags(treated, where)
    w = np.ones(s.size) if weights is None else _floats(weights, where, "weights")
    lengths = {"score": s.size, "churned": y.size, "treated": t.size, "weights": w.size}
    if len(set(lengths.values())) > 1:
        raise DataError(f"{where}: expected inputs of one length; got {lengths}")
    if not np.isfinite(s).all():
        raise DataError(f"{where}: expected finite scores; got {int((~np.isfinite(s)).sum())} not")
    if not np.isin(y, (0.0, 1.0)).all():
        shown = np.unique(y[~np.isin(y, (0.0, 1.0))])[:5].tolist()
        raise DataError(f"{where}: expected churned in {{0, 1}}; got values such as {shown}")
    if not (np.isfinite(w).all() and (w >= 0).all()):
        bad = w[~(np.isfinite(w) & (w >= 0))][:5].tolist()
        raise DataError(f"{where}: expected finite weights >= 0; got values such as {bad}")
    for arm, rows in (("treated", t), ("control", ~t)):
        if not rows.any():
            raise DataError(f"{where}: expected at least one {arm} row; got none")
        if w[rows].sum() <= 0:
            raise DataError(f"{where}: expected {arm} rows of positive weight; all weigh 0")
    return _Rows(s, 1.0 - y, t, w)


def _cuts(rows: _Rows) -> _Cuts:
    """Running sums down the ranking, one cut after each group of equal scores."""
    order = np.argsort(-rows.score, kind="stable")
    score = rows.score[order]
    weight = rows.weight[order]
    treated = rows.treated[order]
    kept = rows.kept[order]
    last_of_tie = np.append(score[1:] != score[:-1], True)

    def running(values: np.ndarray) -> np.ndarray:
        return np.concatenate(([0.0], np.cumsum(values)[last_of_tie]))

    n_all = running(weight)
    total = float(n_all[-1])
    return _Cuts(
        share=n_all / total,
        n_treated=running(weight * treated),
        kept_treated=running(weight * treated * kept),
        n_control=running(weight * ~treated),
        kept_control=running(weight * ~treated * kept),
        total=total,
    )


def qini_curve(
    score: ArrayLike,
    churned: ArrayLike,
    treated: ArrayLike,
    *,
    weights: ArrayLike | None = None,
) -> pd.DataFrame:
    """The Qini curve: customers kept by targeting the top share, per row of the population.

    At each cut, ``Q = Y_T - Y_C * N_T / N_C`` with ``Y`` the weighted count of retained rows
    and ``N`` the weighted count of rows of each arm among the targeted ones; dividing by the
    total weight makes curves of populations of different sizes comparable. Where no control
    row has been reached yet, the curve stays at its previous value (0 at the start).

    Args:
        score: the uplift score of each row; higher means target first.
        churned: 1 where the customer churned, 0 where they were kept.
        treated: True for rows treated with the offer, False for control rows.
        weights: non-negative row weights; 1 for every row when None.

    Returns:
        Columns ``share`` (of the total weight targeted, from 0 to 1) and ``qini``, one row per
        group of equal scores after a first row at share 0.
    """
    cuts = _cuts(_rows("qini_curve", score, churned, treated, weights))
    expected = np.divide(
        cuts.kept_control * cuts.n_treated,
        cuts.n_control,
        out=np.zeros_like(cuts.n_control),
        where=cuts.n_control > 0,
    )
    gain = cuts.kept_treated - expected
    # carry the last defined value forward over cuts that have no control row yet
    defined = cuts.n_control > 0
    defined[0] = True
    gain[0] = 0.0
    carried = np.maximum.accumulate(np.where(defined, np.arange(gain.size), 0))
    return pd.DataFrame({"share": cuts.share, "qini": gain[carried] / cuts.total})


def qini_coefficient(
    score: ArrayLike,
    churned: ArrayLike,
    treated: ArrayLike,
    *,
    weights: ArrayLike | None = None,
) -> float:
    """The area between the Qini curve and the random-targeting line to its end point.

    Trapezoidal over share; about 0 for a random score, exactly 0 for a constant one, and
    largest for the score that ranks the customers the offer keeps first. Arguments as in
    :func:`qini_curve`.
    """
    curve = qini_curve(score, churned, treated, weights=weights)
    share = curve["share"].to_numpy()
    qini = curve["qini"].to_numpy()
    return float(np.trapezoid(qini, share) - qini[-1] / 2)


def auuc(
    score: ArrayLike,
    churned: ArrayLike,
    treated: ArrayLike,
    *,
    weights: ArrayLike | None = None,
) -> float:
    """The area under the uplift curve ``U = (mean_T(y) - mean_C(y)) * N(cut) / N``.

    The means are weighted retention rates of each arm among the targeted rows, ``N(cut)`` the
    targeted weight; ``U`` is 0 at cuts where an arm has no row yet. Trapezoidal over share.
    Arguments as in :func:`qini_curve`.
    """
    cuts = _cuts(_rows("auuc", score, churned, treated, weights))
    both = (cuts.n_treated > 0) & (cuts.n_control > 0)
    rate_treated = np.divide(
        cuts.kept_treated, cuts.n_treated, out=np.zeros_like(cuts.share), where=both
    )
    rate_control = np.divide(
        cuts.kept_control, cuts.n_control, out=np.zeros_like(cuts.share), where=both
    )
    uplift = (rate_treated - rate_control) * cuts.share
    return float(np.trapezoid(uplift, cuts.share))


def _check_share(share: float, where: str) -> None:
    if not (isinstance(share, int | float) and 0 < share <= 1):
        raise DataError(f"{where}: expected share in (0, 1]; got {share!r}")


def uplift_at_top(
    score: ArrayLike,
    churned: ArrayLike,
    treated: ArrayLike,
    *,
    share: float,
    weights: ArrayLike | None = None,
) -> float:
    """The observed uplift among the top ``share`` of rows by score.

    The control rows' weighted churn rate minus the treated rows' one, among the fewest
    highest-scored rows whose weight reaches ``share`` of the total (equal scores keep their
    input order). NaN, with a debug message, when one arm has no weight there.

    Args:
        score: the uplift score of each row; higher means target first.
        churned: 1 where the customer churned, 0 where they were kept.
        treated: True for rows treated with the offer, False for control rows.
        share: the share of the total weight targeted, in (0, 1].
        weights: non-negative row weights; 1 for every row when None.
    """
    where = "uplift_at_top"
    _check_share(share, where)
    rows = _rows(where, score, churned, treated, weights)
    order = np.argsort(-rows.score, kind="stable")
    weight = rows.weight[order]
    before = np.cumsum(weight) - weight
    total = weight.sum()
    # the relative tolerance keeps share * total = 3.0000000000000004 from taking a 4th row
    top = order[before < share * total * (1 - 1e-12)]
    rates = {}
    for arm, flags in (("treated", rows.treated[top]), ("control", ~rows.treated[top])):
        w = rows.weight[top][flags]
        if w.sum() <= 0:
            log.debug("uplift_at_top: no %s weight among the top %g of rows", arm, share)
            return float("nan")
        rates[arm] = float(np.average(1.0 - rows.kept[top][flags], weights=w))
    return rates["control"] - rates["treated"]


def uplift_summary(
    score: ArrayLike,
    churned: ArrayLike,
    treated: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    shares: Sequence[float] = (0.1, 0.2, 0.3),
) -> dict[str, float]:
    """The headline metrics of an uplift score for one offer.

    Returns:
        ``qini`` (:func:`qini_coefficient`), ``auuc`` (:func:`auuc`), ``uplift_top_<percent>``
        for each share (:func:`uplift_at_top`, e.g. ``uplift_top_10`` for 0.1), and the row
        counts ``treated`` and ``control``.
    """
    where = "uplift_summary"
    for share in shares:
        _check_share(share, where)
    rows = _rows(where, score, churned, treated, weights)
    summary = {
        "qini": qini_coefficient(score, churned, treated, weights=weights),
        "auuc": auuc(score, churned, treated, weights=weights),
    }
    for share in shares:
        summary[f"uplift_top_{share * 100:g}"] = uplift_at_top(
            score, churned, treated, share=share, weights=weights
        )
    summary["treated"] = float(rows.treated.sum())
    summary["control"] = float((~rows.treated).sum())
    return summary
