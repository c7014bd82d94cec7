"""Load and validate the input: ``python -m pipelines.validate [data=csv] [data.path=...]``.

Writes ``rejects.csv`` (every rejected row with its reason) and ``validation.json`` (counts per
table and rule, data fingerprint) into the run folder, and fails with a one-line reason when the
input breaks the data contract or too many rows are rejected.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from churn import data
from churn.files import write_json
from pipelines.cli import launch, run_main
from pipelines.common import load_data

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidateResult:
    """What the validation found and where it wrote it."""

    reports: dict[str, data.TableReport]
    fingerprint: dict[str, Any]
    rejects_path: Path
    summary_path: Path


def run(cfg: DictConfig) -> ValidateResult:
    """Validate the configured input and write the rejects and a summary to ``cfg.output_dir``."""
    out = Path(cfg.output_dir)
    dataset = load_data(cfg.data, seed=int(cfg.seed), output_dir=out)
    fingerprint = data.fingerprint(dataset.transactions)
    summary = {
        "source": {k: cfg.data.get(k) for k in ("format", "path", "customers", "events", "table")},
        "max_timestamp": dataset.max_timestamp.isoformat(),
        "tables": {name: asdict(report) for name, report in dataset.reports.items()},
        "fingerprint": fingerprint,
    }
    summary_path = out / "validation.json"
    write_json(summary_path, summary, private=False)
    log.info("fingerprint: %s", fingerprint)
    log.info("summary: %s", summary_path)
    return ValidateResult(dataset.reports, fingerprint, out / "rejects.csv", summary_path)


@hydra.main(version_base="1.3", config_path="../conf", config_name="validate")
def main(cfg: DictConfig) -> None:
    """Command-line entry point."""
    run_main(run, cfg)


if __name__ == "__main__":
    launch(main, "validate")
