"""The scoring options, validated before any work starts (a bad one is exit 2)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from churn import offers
from churn.config import whole_number
from churn.errors import ConfigError
from churn.export.database import DatabaseConfig, check_url
from churn.monitoring import DriftConfig
from churn.scoring.tiers import TierConfig
from churn.value import ValueConfig

log = logging.getLogger(__name__)

REASONS_FOR = ("at_risk", "offered", "all", "none")
TARGETS = ("files", "postgres")


@dataclass(frozen=True)
class ScoreOptions:
    """Everything a scoring run is configured with, checked together."""

    tiers: TierConfig
    offers: offers.OfferConfig
    thresholds: DriftConfig
    batch_size: int
    reasons_for: str
    targets: tuple[str, ...]
    database: DatabaseConfig
    distributed: bool
    seed: int = 0
    max_model_age_days: int = 90
    export_dir: str = "exports"
    customer_id_column: str = "customer_id"
    fail_on_drift: bool = False
    require_signature: bool = False
    allow_library_change: bool = False
    shadow: str | None = None  # latest or a version number: score it beside the champion
    id_normalization: str = "none"  # data.id_normalization: how rejected rows' ids are read
    value: ValueConfig = field(default_factory=ValueConfig)  # how values are computed (churn.value)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ScoreOptions:
        """Build from a scoring run's whole config (``conf/score.yaml`` as plain values)."""
        try:
            return cls.from_mappings(
                tiers=config["tiers"],
                offer_values=config["offers"],
                drift=config["drift"],
                score=config["score"],
                targets=list(config["export"]["targets"]),
                postgres=config["export"]["postgres"],
                engine_name=str(config["engine"]["name"]),
                seed=int(config.get("seed", 0)),
                export_dir=str(config["export"]["dir"]),
                customer_id_column=str(config["data"]["columns"]["transactions"]["customer_id"]),
                value_values=config.get("value"),
            ).with_id_normalization(str(config["data"].get("id_normalization") or "none"))
        except KeyError as err:
            raise ConfigError(f"score config: expected the section {err}; it is missing") from err

    def with_id_normalization(self, value: str) -> ScoreOptions:
        """A copy reading rejected rows' customer ids as ``data.id_normalization`` says."""
        return dataclasses.replace(self, id_normalization=value)

    @classmethod
    def from_mappings(
        cls,
        *,
        tiers: Mapping[str, Any],
        offer_values: Mapping[str, Any],
        drift: Mapping[str, Any],
        score: Mapping[str, Any],
        targets: list[str],
        postgres: Mapping[str, Any],
        engine_name: str,
        seed: int = 0,
        export_dir: str = "exports",
        customer_id_column: str = "customer_id",
        value_values: Mapping[str, Any] | None = None,
    ) -> ScoreOptions:
        """Build from the plain config nodes and check the rules between them.

        Args:
            tiers: the ``tiers`` node.
            offer_values: the ``offers`` node.
            drift: the ``drift`` node (``warn``, ``flag``, ``fail_on_flag``).
            score: the ``score`` node (``batch_size``, ``reasons_for``, ``distributed``).
            targets: ``export.targets``.
            postgres: ``export.postgres``.
            engine_name: ``engine.name``.
            seed: the run's seed (the control group draw).
            export_dir: ``export.dir``, where earlier exports (the cooldown) are.
            customer_id_column: the transactions' own name of the customer id (``data.columns``).
            value_values: the ``value`` node; absent, the heuristic with ``offers.margin``.

        Raises:
            ConfigError: any option that cannot work, or two that cannot work together.
        """
        tier_config = TierConfig.from_mapping(tiers)
        offer_config = offers.OfferConfig.from_mapping(offer_values, tiers=tier_config.names)
        thresholds = DriftConfig.from_mapping({k: drift[k] for k in ("warn", "flag") if k in drift})
        reasons_for = score.get("reasons_for")
        if reasons_for not in REASONS_FOR:
            raise ConfigError(
                f"score.reasons_for: expected at_risk, offered, all or none; got {reasons_for!r}"
            )
        if sorted(set(targets) - set(TARGETS)) or "files" not in targets:
            raise ConfigError(
                f"export.targets: expected files and optionally postgres; got {targets}"
            )
        batch_size = whole_number("score.batch_size", score.get("batch_size"))
        max_age = whole_number("score.max_model_age_days", score.get("max_model_age_days", 90))
        if batch_size < 1:
            raise ConfigError(f"score.batch_size: expected >= 1; got {batch_size}")
        require_signature = _flag("score.require_signature", score.get("require_signature", False))
        allow_change = _flag("score.allow_library_change", score.get("allow_library_change", False))
        shadow = score.get("shadow")
        if shadow is not None and not (
            shadow == "latest" or (str(shadow).isdigit() and int(str(shadow)) > 0)
        ):
            raise ConfigError(
                f"score.shadow: expected null, latest or a version number; got {shadow!r}"
            )
        database = DatabaseConfig.from_mapping(postgres)
        if "postgres" in targets:
            check_url(database)
        value_config = ValueConfig.from_mapping(value_values, margin=offer_config.margin)
        distributed = bool(score.get("distributed"))
        if distributed and engine_name != "spark":
            raise ConfigError(
                f"score.distributed=true scores on Spark: it needs engine=spark; got {engine_name}"
            )
        if distributed and reasons_for != "at_risk":
            raise ConfigError(
                "score.distributed=true explains the at-risk customers on the cluster: it needs "
                f"score.reasons_for=at_risk; got {reasons_for}"
            )
        if distributed and tier_config.method != "thresholds":
            raise ConfigError(
                "score.distributed=true needs tiers.method=thresholds (no global rank)"
            )
        return cls(
            tier_config,
            offer_config,
            thresholds,
            batch_size,
            str(reasons_for),
            tuple(targets),
            database,
            distributed,
            int(seed),
            max_age,
            str(export_dir),
            str(customer_id_column),
            bool(drift.get("fail_on_flag", False)),
            require_signature,
            allow_change,
            None if shadow is None else str(shadow),
            value=value_config,
        )


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false; got {value!r}")
    return value
