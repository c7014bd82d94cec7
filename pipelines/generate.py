"""Generate the demo data: ``python -m pipelines.generate [generate.n_customers=20000]``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from pipelines.cli import launch, run_main
from pipelines.common import write_demo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateResult:
    """Where the demo data went and what it holds."""

    output_dir: Path
    summary: dict[str, Any]


def run(cfg: DictConfig) -> GenerateResult:
    """Simulate the configured world and write the demo data folder."""
    demo = write_demo(cfg.generate, seed=int(cfg.seed))
    return GenerateResult(Path(cfg.generate.output_dir), demo.summary())


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "generate")
