"""What the entry points share: config nodes as plain values, the demo data on demand, loading."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from churn import data, labels, synthetic, training_table

log = logging.getLogger(__name__)

ROW_REJECTS = "rejects.csv"


def container(node: Any) -> dict[str, Any]:
    """A config node as plain Python values (what the library's settings are built from)."""
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def ensure_demo_data(data_cfg: DictConfig, *, seed: int) -> None:
    """Generate the demo data when the data config asks for it and it is missing."""
    generate = data_cfg.get("generate")
    if generate is None or Path(data_cfg.path).exists():
        return
    log.info("demo data missing at %s: generating it (seed %d)", data_cfg.path, seed)
    write_demo(generate, seed=seed)


def write_demo(generate_cfg: DictConfig, *, seed: int) -> synthetic.DemoData:
    """Simulate the demo world of ``generate_cfg`` and write it to its output folder."""
    params = synthetic.WorldConfig.from_mapping(container(generate_cfg.world))
    demo = synthetic.generate(params, n_customers=int(generate_cfg.n_customers), seed=seed)
    synthetic.save(demo, generate_cfg.output_dir, seed=seed)
    log.info("wrote demo data to %s: %s", generate_cfg.output_dir, demo.summary())
    return demo


def load_data(data_cfg: DictConfig, *, seed: int, output_dir: str | Path) -> data.Dataset:
    """Load and validate the input (generating the demo data first when it is missing).

    The rejected rows are always written to ``<output_dir>/rejects.csv``, also when too many
    of them make the load fail, so nothing is lost.
    """
    ensure_demo_data(data_cfg, seed=seed)
    rejects_path = row_rejects_path(output_dir)
    try:
        dataset = data.load(container(data_cfg))
    except data.TooManyRejectsError as err:
        data.write_rejects(err.rejects, rejects_path)
        log.error("rejected rows written to %s", rejects_path)
        raise
    data.write_rejects(dataset.rejects, rejects_path)
    for name, report in dataset.reports.items():
        log.debug(
            "%s: %d rows in, %d used, %d rejected %s",
            name,
            report.input_rows,
            report.used_rows,
            report.rejected_rows,
            report.rejected_by_rule or "",
        )
    return dataset


def row_rejects_path(output_dir: str | Path) -> Path:
    """Where :func:`load_data` writes the rejected rows of a run."""
    return Path(output_dir).resolve() / ROW_REJECTS


def schedule(
    cfg: DictConfig, dataset: data.Dataset, label_config: labels.LabelConfig
) -> training_table.Schedule:
    """The input on ``cfg.engine``, its data end and the labelled cutoffs."""
    return training_table.schedule(
        dataset,
        label_config,
        engine_config=container(cfg.engine),
        end_date=cfg.data.get("end_date"),
    )
