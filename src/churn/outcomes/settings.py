"""The settings of a campaign measurement (``outcomes:`` in ``conf/outcomes.yaml``).

Fixed in config before anything is measured, so a threshold can never be chosen after looking at
the results: how many control customers a cell needs, how wide an interval may be and still be
reported as measured, how far realised model quality may fall below the recorded test metrics,
and what happens to customers an earlier campaign already touched (``overlap``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

from churn.config import Config
from churn.errors import ConfigError

log = logging.getLogger(__name__)

ATTRIBUTE = "attribute"
EXCLUDE = "exclude"
OVERLAP = (ATTRIBUTE, EXCLUDE)


@dataclass(frozen=True)
class OutcomeConfig(Config):
    """How campaign outcomes are measured (``conf/outcomes.yaml``, ``outcomes:``).

    Attributes:
        dir: the root the results go to, ``<dir>/<as_of>/``.
        min_control: a cell with fewer control customers is not measurable.
        max_interval_width: a cell whose save-rate interval is wider is not measurable.
        performance_tolerance: warn when realised ROC-AUC is lower, or Brier higher, than the
            bundle's recorded test metric by more than this.
        overlap: customers with ``earlier_campaign`` set are counted like everyone else
            (``attribute``) or removed from both arms (``exclude``).
        ece_bins: equal-width bins of the realised expected calibration error.
        confidence: level of the save-rate intervals.
        power: the power the required control size is computed for (at level 1 - confidence).
        survey_grace_days: exit survey answers are counted in ``[as_of, as_of + H + this)``:
            answers come some days after leaving.
    """

    section: ClassVar[str] = "outcomes"

    dir: str = "outcomes"
    min_control: int = 30
    max_interval_width: float = 0.5
    performance_tolerance: float = 0.05
    overlap: str = ATTRIBUTE
    ece_bins: int = 10
    confidence: float = 0.95
    power: float = 0.8
    survey_grace_days: int = 30

    def validate(self) -> None:
        """Raise ConfigError for values that cannot work."""
        if not isinstance(self.dir, str) or not self.dir:
            raise ConfigError(f"outcomes.dir: expected a folder path; got {self.dir!r}")
        for name in ("min_control", "ece_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"outcomes.{name}: expected a whole number >= 1; got {value!r}")
        if not (math.isfinite(self.max_interval_width) and self.max_interval_width > 0):
            raise ConfigError(
                "outcomes.max_interval_width: expected a finite number > 0; got "
                f"{self.max_interval_width}"
            )
        if not (math.isfinite(self.performance_tolerance) and self.performance_tolerance >= 0):
            raise ConfigError(
                "outcomes.performance_tolerance: expected a finite number >= 0; got "
                f"{self.performance_tolerance}"
            )
        if self.overlap not in OVERLAP:
            raise ConfigError(
                f"outcomes.overlap: expected one of {list(OVERLAP)}; got {self.overlap!r}"
            )
        grace = self.survey_grace_days
        if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
            raise ConfigError(
                f"outcomes.survey_grace_days: expected a whole number of days >= 0; got {grace!r}"
            )
        for name in ("confidence", "power"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ConfigError(f"outcomes.{name}: expected a share in (0, 1); got {value}")
