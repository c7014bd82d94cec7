"""Point in time: nothing at or after a cutoff changes a feature at that cutoff."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn import features, synthetic
from tests.features.helpers import CUTOFF, HORIZON, compare, cutoffs_of, tx_table
from tests.features.reference import reference_features

# --- leakage: nothing at or after the cutoff may change a feature at the cutoff -----------------

BASE = dt.datetime(2024, 1, 1)
CUSTOMERS = ["a", "b", "c", "d"]
CATEGORIES = ["x", "y", "z"]


def _rows(draw: st.DrawFn, start: dt.datetime, days: int, n: tuple[int, int]) -> list[tuple]:
    count = draw(st.integers(*n))
    return [
        (
            draw(st.sampled_from([*CUSTOMERS, "new"])),
            start + dt.timedelta(seconds=draw(st.integers(0, days * 86_400 - 1))),
            draw(st.sampled_from([-5.0, 3.5, 10.0, 24.99, 80.0])),
            draw(st.sampled_from(CATEGORIES)),
        )
        for _ in range(count)
    ]


@st.composite
def history_and_future(draw: st.DrawFn) -> tuple[list[tuple], list[tuple], list[tuple]]:
    past = _rows(draw, BASE, (CUTOFF - BASE).days, (1, 40))
    # purchases on the cutoff's own day boundary and later: all must be ignored
    future = _rows(draw, CUTOFF, 200, (1, 30))
    future.append((draw(st.sampled_from(CUSTOMERS)), CUTOFF, 50.0, "x"))
    events = [
        (
            draw(st.sampled_from(CUSTOMERS)),
            CUTOFF + dt.timedelta(hours=draw(st.integers(0, 2000))),
            draw(st.sampled_from(["complaint", "support_ticket", "nps"])),
            float(draw(st.integers(0, 10))),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    return past, future, events


def _event_table(rows: list[tuple]) -> pa.Table:
    customer, ts, kind, value = zip(*rows, strict=True) if rows else ([], [], [], [])
    return pa.table(
        {
            "customer_id": pa.array(customer, pa.string()),
            "timestamp": pa.array(ts, pa.timestamp("us")),
            "type": pa.array(kind, pa.string()),
            "value": pa.array(value, pa.float64()),
        }
    )


PAST_EVENTS = [
    ("a", dt.datetime(2024, 5, 20), "complaint", float("nan")),
    ("b", dt.datetime(2024, 3, 1), "nps", 4.0),
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_and_future())
def test_build_features_ignores_rows_at_or_after_cutoff(
    data: tuple[list[tuple], list[tuple], list[tuple]],
) -> None:
    past, future, future_events = data
    con = ibis.duckdb.connect()
    config = features.FeatureConfig(btyd_enabled=True)

    def run(tx_rows: list[tuple], ev_rows: list[tuple], name: str) -> pd.DataFrame:
        tx = con.create_table(f"tx_{name}", tx_table(tx_rows), overwrite=True)
        ev = con.create_table(f"ev_{name}", _event_table(ev_rows), overwrite=True)
        out = features.build_features(tx, [CUTOFF], config, events=ev, horizon_days=HORIZON)
        return out.to_pandas()

    before = run(past, PAST_EVENTS, "before")
    after = run(past + future, PAST_EVENTS + future_events, "after")
    compare(pa.Table.from_pandas(after, preserve_index=False), before)


def test_build_features_ignore_the_real_future(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    """Adding the held-back future (and more) changes nothing at the data end, BG/NBD included."""
    end = pd.Timestamp(small.params.end_date)
    cutoffs = [end, end - pd.Timedelta(days=200)]
    config = features.FeatureConfig()
    observed = con.create_table("tx_obs", small.transactions, overwrite=True)
    everything = con.create_table(
        "tx_all", pa.concat_tables([small.transactions, small.future_transactions]), overwrite=True
    )
    ev_obs = con.create_table("ev_obs", small.events, overwrite=True)
    ev_all = con.create_table(
        "ev_all", pa.concat_tables([small.events, small.future_events]), overwrite=True
    )
    before = features.build_features(observed, cutoffs, config, events=ev_obs, horizon_days=HORIZON)
    after = features.build_features(
        everything, cutoffs, config, events=ev_all, horizon_days=HORIZON
    )
    assert small.future_transactions.num_rows > 0
    assert before.column("btyd_p_alive").null_count == 0
    # Equal up to the order of floating-point additions in DuckDB's parallel aggregation.
    compare(after, before.to_pandas())


def test_build_features_tied_timestamps_match_reference() -> None:
    """Several purchases at the same instant: day counts, gaps and spends stay exact."""
    t0 = dt.datetime(2024, 3, 1, 12)
    rows = [
        ("a", t0, 10.0, "x"),
        ("a", t0, 30.0, "y"),
        ("a", t0, 20.0, "x"),
        ("a", t0 + dt.timedelta(days=9), 5.0, "y"),
        ("a", t0 + dt.timedelta(days=9), 7.0, "y"),
        ("a", t0 + dt.timedelta(days=30, hours=3), 1.0, "z"),
        ("b", t0, 4.0, "x"),
        ("b", t0, 4.0, "x"),
    ]
    table = tx_table(rows)
    config = features.FeatureConfig(btyd_enabled=False)
    tx = ibis.duckdb.connect().create_table("ties", table)
    got = features.build_features(tx, [CUTOFF], config, horizon_days=HORIZON)
    expected = reference_features(
        table.to_pandas(),
        [pd.Timestamp(CUTOFF)],
        config,
        events=None,
        horizon_days=HORIZON,
        active_within_days=None,
    )
    compare(got, expected)
    a = got.to_pandas().set_index("customer_id").loc["a"]
    assert a["frequency"] == 3
    assert a["last_amount"] == 1.0


def test_features_at_a_cutoff_do_not_depend_on_the_other_cutoffs(
    small: synthetic.DemoData, con: ibis.BaseBackend
) -> None:
    """History is merged across the intervals between cutoffs: alone or among others, a
    cutoff's features are the same (scoring asks for one date, training for many)."""
    config = features.FeatureConfig(btyd_enabled=False)
    tx = con.create_table("tx_alone", small.transactions, overwrite=True)
    ev = con.create_table("ev_alone", small.events, overwrite=True)
    cutoffs = cutoffs_of(small)
    together = features.build_features(
        tx, cutoffs, config, events=ev, horizon_days=HORIZON, active_within_days=365
    ).to_pandas()
    for cutoff in cutoffs:
        alone = features.build_features(
            tx, [cutoff], config, events=ev, horizon_days=HORIZON, active_within_days=365
        )
        same = together[together["cutoff"] == cutoff].reset_index(drop=True)
        assert len(same) > 0
        compare(alone, same)
