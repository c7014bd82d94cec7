"""A bundle's feature definitions and library versions against this installation."""

from __future__ import annotations

import logging

import pytest

from churn.bundle import compat
from churn.bundle.store import FEATURES_KEY
from churn.errors import BundleError
from tests.bundle.test_store import MANIFEST

NOW = {FEATURES_KEY: "1", "lightgbm": "4.7.0", "pandas": "3.1.1", "numpy": "2.4.6"}


def _check(recorded: dict[str, str], allow: bool = False) -> list[str]:
    manifest = MANIFEST.with_updates(libraries=recorded)
    return compat.check_compatibility(
        manifest, where="bundle b", allow_library_change=allow, installed=NOW
    )


def test_the_same_versions_pass_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert _check(dict(NOW)) == []
    assert caplog.records == []


def test_other_feature_definitions_are_refused() -> None:
    with pytest.raises(BundleError, match="feature definitions version 0, this installation"):
        _check({**NOW, FEATURES_KEY: "0"})
    with pytest.raises(BundleError, match="feature definitions version None"):
        _check({k: v for k, v in NOW.items() if k != FEATURES_KEY})


def test_a_minor_change_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert _check({**NOW, "pandas": "3.0.2"}) == ["pandas 3.0.2 at training, 3.1.1 installed"]
    assert "library versions changed since training" in caplog.text


def test_a_patch_change_is_silent() -> None:
    assert _check({**NOW, "lightgbm": "4.7.1"}) == []


def test_a_major_change_is_refused_unless_allowed() -> None:
    with pytest.raises(BundleError, match=r"lightgbm 3\.0 at training, 4\.7\.0 installed"):
        _check({**NOW, "lightgbm": "3.0"})
    assert _check({**NOW, "lightgbm": "3.0"}, allow=True) == [
        "lightgbm 3.0 at training, 4.7.0 installed"
    ]
