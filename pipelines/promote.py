"""Promote or roll back the served model: ``python -m pipelines.promote`` (docs/training.md).

With no ``version`` it lists the model store's versions, their test metrics, the gate's
decision and which is champion, and changes nothing. With ``version=N reason=...`` it checks
the version's files and signature, points ``champion`` at it (one atomic rename), records the
reason in ``promotions.jsonl``, and moves the MLflow ``champion`` alias to the version's
registered model version when tracking is on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import hydra
from omegaconf import DictConfig

from churn import bundle, tracking
from churn.errors import ConfigError, TrackingError
from pipelines.cli import launch, run_main
from pipelines.common import container

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromoteResult:
    """The champion after the run, and the one before (None: there was none)."""

    champion: int | None
    previous: int | None
    versions: list[int]


def run(cfg: DictConfig) -> PromoteResult:
    """List the versions, or serve the one named."""
    store = bundle.ModelStore(cfg.model_dir)
    number, reason = _request(cfg)
    if number is None:
        infos = store.describe()
        if not infos:
            log.info("model store %s holds no versions yet", store.root)
        for line in bundle.version_table(infos, tuple(cfg.metrics)):
            log.info("%s", line)
        return PromoteResult(store.champion, store.champion, store.versions())
    if number not in store.versions():
        raise ConfigError(
            f"version: expected one of the stored versions {store.versions()}; got {number}"
        )
    bundle.load(store.path(number))  # refuse a damaged or unsigned version: exit 5
    previous = store.promote(number, reason=reason, by="manual")
    config = tracking.TrackingConfig.from_mapping(container(cfg.tracking))
    if config.enabled:
        _mirror(config, store, number)
    return PromoteResult(number, previous, store.versions())


def _request(cfg: DictConfig) -> tuple[int | None, str]:
    version, reason = cfg.get("version"), cfg.get("reason")
    if version is None:
        return None, ""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"version: expected a stored version number (1, 2, ...); got {version!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f'reason: expected why version {version} is served, e.g. reason="rollback: '
            f'bad lists"; got {reason!r}'
        )
    return version, reason.strip()


def _mirror(config: tracking.TrackingConfig, store: bundle.ModelStore, number: int) -> None:
    record = bundle.read_manifest(store.path(number)).mlflow or {}
    if record.get("registered_model") != config.registered_model or not record.get("version"):
        log.warning(
            "version %d was never registered as %s: the MLflow champion alias is unchanged",
            number,
            config.registered_model,
        )
        return
    try:
        tracking.set_champion(config, str(record["version"]))
    except TrackingError as err:
        raise TrackingError(f"{err}; version {number} is served all the same") from err


@hydra.main(version_base="1.3", config_path="../conf", config_name="promote")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "promote")
