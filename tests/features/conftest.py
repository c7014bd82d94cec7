"""Fixtures of the feature tests: a small demo world and a DuckDB connection."""

from __future__ import annotations

import ibis
import pytest

from churn import synthetic


@pytest.fixture(scope="module")
def small(world: synthetic.WorldConfig) -> synthetic.DemoData:
    return synthetic.generate(world, n_customers=1_500, seed=11)


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()
