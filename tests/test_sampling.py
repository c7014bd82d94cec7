"""The training sample: a seeded hash of the customer id, drawn before the table is built."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from churn import engine, labels, model, sampling, synthetic, training, training_table
from churn.errors import ConfigError
from churn.features import FeatureConfig

LABEL = labels.LabelConfig(n_cutoffs=8)
FEATURES = FeatureConfig()


@pytest.fixture(scope="module")
def small(world: synthetic.WorldConfig) -> synthetic.DemoData:
    return synthetic.generate(world, n_customers=2_000, seed=3)


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def _schedule(
    con: ibis.BaseBackend, demo: synthetic.DemoData, name: str, *, order_seed: int | None = None
) -> training_table.Schedule:
    """The demo world registered on ``con`` (rows shuffled when ``order_seed`` is given)."""
    tx, ev = demo.transactions, demo.events
    if order_seed is not None:
        rng = np.random.default_rng(order_seed)
        tx = tx.take(pa.array(rng.permutation(tx.num_rows)))
        ev = ev.take(pa.array(rng.permutation(ev.num_rows)))
    tables = (
        engine.register(con, tx, events=ev)
        if name == "main"
        else engine.Tables(
            con.create_table(f"tx_{name}", tx, overwrite=True),
            None,
            con.create_table(f"ev_{name}", ev, overwrite=True),
        )
    )
    end = labels.data_end(tables.transactions)
    return training_table.Schedule(tables, end, labels.cutoff_schedule(end, LABEL))


def _plan(planned: training_table.Schedule, **options: object) -> sampling.CustomerSample | None:
    values: dict[str, object] = {"max_customers": 300, "seed": 0, "min_class_rows": 20}
    values.update(options)
    return sampling.plan_sample(
        planned.tables.transactions,
        planned.cutoffs,
        LABEL,
        end=planned.end,
        **values,  # type: ignore[arg-type]
    )


def _build(
    planned: training_table.Schedule, sample: sampling.CustomerSample | None
) -> pd.DataFrame:
    table = training_table.build(
        planned.tables.transactions,
        planned.cutoffs,
        FEATURES,
        LABEL,
        end=planned.end,
        events=planned.tables.events,
        subset=None if sample is None else sample.subset(),
    )
    return table.to_pandas()


@pytest.fixture(scope="module")
def planned(con: ibis.BaseBackend, small: synthetic.DemoData) -> training_table.Schedule:
    return _schedule(con, small, "main")


@pytest.fixture(scope="module")
def sample(planned: training_table.Schedule) -> sampling.CustomerSample:
    drawn = _plan(planned)
    assert drawn is not None
    return drawn


@pytest.fixture(scope="module")
def whole(planned: training_table.Schedule) -> pd.DataFrame:
    return _build(planned, None)


@pytest.fixture(scope="module")
def sampled(planned: training_table.Schedule, sample: sampling.CustomerSample) -> pd.DataFrame:
    return _build(planned, sample)


def _assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    assert got[["customer_id", "cutoff"]].equals(want[["customer_id", "cutoff"]])
    for name in got.columns[2:]:
        if got[name].dtype.kind in "fi":
            np.testing.assert_allclose(
                got[name].to_numpy(dtype=float),
                want[name].to_numpy(dtype=float),
                rtol=1e-9,
                atol=1e-9,
                err_msg=name,
            )
        else:
            assert got[name].equals(want[name]), name


def test_customer_key_on_the_engine_equals_pythons_md5(con: ibis.BaseBackend) -> None:
    ids = ["a", "c17", "0042", "Zoë", "客户-9"]
    table = ibis.memtable(pa.table({"customer_id": ids}))
    got = con.execute(table.select(key=sampling.customer_key(table.customer_id, 7)))["key"]
    assert list(got) == [sampling.key_of(i, 7) for i in ids]
    assert all(len(k) == sampling.KEY_CHARS for k in got)
    assert 0 <= sampling.key_fraction("0" * 16) < sampling.key_fraction("f" * 16) < 1


@pytest.mark.parametrize("value", [0, -3, 1.5, "all", True])
def test_check_max_customers_rejects_other_values(value: object) -> None:
    with pytest.raises(ConfigError, match=r"train.max_customers: expected a whole number >= 1"):
        sampling.check_max_customers(value)


def test_sample_size_follows_the_setting() -> None:
    def size(setting: int | str | None, rows: int = 1_000) -> int:
        return sampling.sample_size(100, rows, max_customers=setting, max_rows=500)

    assert size(None) == 100
    assert size(30) == 30
    assert size(300) == 100
    assert size("auto", rows=400) == 100  # under the budget: everyone
    assert size("auto") == 50  # half the customers keep about half the rows


def test_sample_is_stable_under_row_order(
    con: ibis.BaseBackend,
    small: synthetic.DemoData,
    sample: sampling.CustomerSample,
    sampled: pd.DataFrame,
) -> None:
    shuffled = _schedule(con, small, "shuffled", order_seed=5)
    again = _plan(shuffled)
    assert again == sample
    _assert_same_rows(_build(shuffled, again), sampled)


def test_same_seed_same_sample_other_seed_other_sample(
    planned: training_table.Schedule, sample: sampling.CustomerSample, sampled: pd.DataFrame
) -> None:
    assert _plan(planned) == sample
    other = _plan(planned, seed=1)
    assert other is not None
    assert other.customers == sample.customers == 300
    ids = pd.Series(sampled["customer_id"].unique())
    mine, theirs = set(ids[sample.mask(ids)]), set(ids[other.mask(ids)])
    assert len(mine) == 300
    assert mine != theirs
    assert len(mine & theirs) < 150  # about 300 x 300 / 2,000 by chance


def test_sampled_rows_equal_the_whole_tables_rows(
    whole: pd.DataFrame, sampled: pd.DataFrame, sample: sampling.CustomerSample
) -> None:
    """The sampled customers' rows at every cutoff, and everyone at the whole cutoffs."""
    assert sample.full_cutoffs  # the test and calibration cutoffs stay whole
    keep = sample.mask(whole["customer_id"]) | whole["cutoff"].isin(sample.full_cutoffs)
    _assert_same_rows(sampled, whole[keep.to_numpy()])
    in_sample = sample.mask(sampled["customer_id"])
    assert sampled.loc[in_sample, "btyd_p_alive"].notna().all()  # fitted on every buyer


def test_max_customers_bounds_the_table(
    planned: training_table.Schedule,
    whole: pd.DataFrame,
    sampled: pd.DataFrame,
    sample: sampling.CustomerSample,
) -> None:
    training_cutoffs = ~sampled["cutoff"].isin(sample.full_cutoffs)
    assert sampled.loc[training_cutoffs, "customer_id"].nunique() <= 300
    assert len(sampled) < 0.5 * len(whole)
    everywhere = _plan(planned, sample_evaluation=True)
    assert everywhere is not None
    assert everywhere.full_cutoffs == ()
    table = _build(planned, everywhere)
    assert table["customer_id"].nunique() <= 300
    assert sample.population == whole["customer_id"].nunique()
    assert sample.rows == len(whole)
    assert set(sample.usable) == set(training.usable_cutoffs(whole, min_class_rows=20))


def test_auto_leaves_the_demo_data_untouched(demo: synthetic.DemoData) -> None:
    """On the demo data (20,000 customers) auto samples nothing: the same training table."""
    planned = _schedule(ibis.duckdb.connect(threads=1), demo, "main")  # one thread: exact sums
    settings = training.TrainConfig(horizon_days=90, step_days=30, max_customers="auto")
    auto = training_table.build_for(planned, FEATURES, LABEL, settings=settings)
    plain = training_table.build_for(planned, FEATURES, LABEL)
    assert auto.sample is None
    assert auto.table.equals(plain.table)


def test_auto_samples_above_its_row_budget(planned: training_table.Schedule) -> None:
    whole_rows = _plan(planned, max_customers=None)
    assert whole_rows is None
    half = _plan(planned, max_customers="auto", max_rows=5_000)
    assert half is not None
    assert abs(half.rows * half.fraction - 5_000) < 50  # about the budget of sampled rows


def test_sample_rows_in_memory_draws_the_smallest_keys() -> None:
    frame = pd.DataFrame({"customer_id": [f"c{i % 50}" for i in range(500)], "x": range(500)})
    sample = sampling.sample_rows(frame, max_customers=10, max_rows=1, seed=0)
    assert sample["customer_id"].nunique() == 10
    assert len(sample) == 100  # every row of each sampled customer
    smallest = sorted(frame["customer_id"].unique(), key=lambda i: sampling.key_of(i, 0))[:10]
    assert set(sample["customer_id"]) == set(smallest)
    assert sampling.sample_rows(frame, max_customers=None, max_rows=1, seed=0) is frame
    assert sampling.sample_rows(frame, max_customers=80, max_rows=1, seed=0) is frame


def test_train_on_the_sample_keeps_test_and_calibration_whole(
    planned: training_table.Schedule, sampled: pd.DataFrame, sample: sampling.CustomerSample
) -> None:
    settings = training.TrainConfig(horizon_days=90, step_days=30, min_class_rows=20)
    config = model.ModelConfig(n_estimators=50, early_stopping_rounds=10)
    outcome = training.train(sampled, config, settings, end=planned.end, seed=0, sample=sample)
    for recipe in (outcome.evaluation, outcome.deployment):
        assert recipe.training_customers <= 300
    test = outcome.split("test")
    target = outcome.evaluation.roles.target
    assert target in sample.full_cutoffs
    assert len(test) == (sampled["cutoff"] == target).sum() > 300


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"max_customers": "lots"}, r"train.max_customers: expected a whole number >= 1, 'auto'"),
        ({"max_customers": "auto", "max_rows": 0}, r"max_rows >= 1; got 5, 100 and 0"),
    ],
)
def test_train_config_rejects_bad_sample_settings(train: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        training.TrainConfig.from_settings(
            LABEL, FEATURES, calibration_method="isotonic", train=train
        )
