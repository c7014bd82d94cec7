"""The notebooks run headless from top to bottom, so they cannot rot; outputs stay out of git."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from pipelines import train
from tests.conftest import compose_config

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_found_and_named() -> None:
    assert [p.name for p in NOTEBOOKS][:1] == ["01-explore-churn.ipynb"]
    for path in NOTEBOOKS:
        assert path.name[:3][:2].isdigit(), path.name
        assert path.name[2] == "-", path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_stripped(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: strip outputs before committing"
            assert cell.execution_count is None


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_headless(
    path: Path, small_demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.chdir(tmp_path)
    train.run(
        compose_config(
            "train",
            [
                f"data.generate.output_dir={small_demo_dir}",
                f"output_dir={tmp_path}/train",
                f"model_dir={tmp_path}/models/churn",
                f"tracking.uri={uri}",
                "model.n_jobs=1",
                "train.shap_rows=100",
                "engine.threads=1",
            ],
        )
    )
    monkeypatch.setenv("CHURN_DATA_DIR", str(small_demo_dir))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    nb = nbformat.read(path, as_version=4)

    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    printed = "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "churn share" in printed
    assert "no training run" not in printed
    assert "run " in printed
    assert any(
        output.get("output_type") == "display_data" and "image/png" in output.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
