"""The registered model's code (MLflow's "models from code"): no pickle in the registry.

MLflow logs this file as the model's code and the bundle folder as its artifact. Loading the
model (``mlflow.pyfunc.load_model("models:/churn@champion")``) runs this file, which loads the
bundle with :func:`churn.bundle.load`: every file's digest and, with ``CHURN_BUNDLE_KEY``, the
manifest's signature are checked, and the model is read from LightGBM's text format and JSON.
``predict`` returns ``[P(stays), P(churns)]`` per row of feature columns.

The library never imports this module (``set_model`` at its end is how MLflow finds the model);
:func:`churn.tracking.runs.log_bundle_model` hands MLflow its path.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

BUNDLE_ARTIFACT = "bundle"


class ChurnPyfunc(PythonModel):
    """Serves the bundle logged beside it."""

    def load_context(self, context: Any) -> None:
        """Load and verify the bundle."""
        from churn import bundle

        self._bundle = bundle.load(context.artifacts[BUNDLE_ARTIFACT])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        """Churn probabilities ``[P(stays), P(churns)]`` of the feature rows."""
        model = self._bundle.model
        return model.predict_proba(pd.DataFrame(model_input)[list(model.features)])


mlflow.models.set_model(ChurnPyfunc())
