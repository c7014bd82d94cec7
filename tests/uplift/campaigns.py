"""Hand-made randomised campaigns with a planted effect, for the uplift tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.uplift.history import Campaign

OFFERS = ("call", "voucher")


def planted(
    as_of: str,
    n: int = 3000,
    *,
    seed: int = 0,
    offers: tuple[str, ...] = OFFERS,
    explore: float = 0.5,
) -> Campaign:
    """Randomised customers whose effect lives in ``recency_days``, not in the churn risk.

    Churn risk is 0.6 for everyone; ``call`` keeps 40 points of churners with recency below 50
    days and none above; ``voucher`` keeps 5 points everywhere. The churn probability the
    export recorded is noise around the risk, so ranking by it is random targeting.
    """
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 100, n)
    treated = rng.random(n) < explore
    treatment = pd.Series(pd.NA, index=range(n), dtype="string")
    picks = rng.integers(0, len(offers), n)
    treatment[treated] = np.asarray(offers, dtype=object)[picks[treated]]
    effect = np.zeros(n)
    effect[(treatment == "call").fillna(False).to_numpy() & (recency < 50)] = 0.4
    effect[(treatment == "voucher").fillna(False).to_numpy()] = 0.05
    churned = (rng.random(n) < 0.6 - effect).astype(float)
    rows = pd.DataFrame(
        {
            "customer_id": pd.Series([f"c{seed}-{i}" for i in range(n)], dtype="string"),
            "status": "scored",
            "churn_probability": np.clip(0.6 + rng.normal(0, 0.1, n), 0.01, 0.99),
            "risk_tier": "high",
            "lifecycle_stage": "established",
            "value": rng.uniform(50, 150, n),
            "contact_status": np.where(treated, "explore", "no_offer"),
            "treatment": treatment,
            "weight": np.where(treated, len(offers) / explore, 1 / (1 - explore)),
            "churned": churned,
            "recency_days": recency,
            "frequency": rng.integers(1, 10, n).astype(float),
        }
    )
    return Campaign(pd.Timestamp(as_of), rows, {"not scored": 0, "not randomised": 0})
