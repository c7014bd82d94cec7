"""A seeded, vectorised simulation of a retail business, with its ground truth.

The demo world (parameters in ``conf/world/demo.yaml``, documented in docs/demo-world.md) is a
continuous-time model of each customer: acquisition, Poisson purchases with seasonality, Gamma
spend, a two-stage dropout (fade start at a hazard, then a fade to the dropout date), events
(tickets, complaints, NPS answers) and refunds. :mod:`~churn.synthetic.world` holds the
parameters and the result type; :mod:`~churn.synthetic.simulate` draws the customers and their
histories; :mod:`~churn.synthetic.tables` turns the draws into the data contract's tables and
the ground truth; :mod:`~churn.synthetic.oracle` computes the true probability of no purchase in
``[c, c + H)`` from the latent state (:mod:`~churn.synthetic.renewal`: the phase of Erlang
buyers); :mod:`~churn.synthetic.io` writes and reads a world folder. The other worlds
(``conf/world``, docs/worlds.md) switch on options of the same model.

The simulation runs past the data end ``E`` for ``future_days`` days: what happens after ``E``
is the held-back future, written apart so scored lists can be checked against it.

:mod:`~churn.synthetic.campaign` moves a written world forward under the plans of its exports
(docs/campaigns.md): :mod:`~churn.synthetic.effects` says what an offer does to the hazard of
leaving, :mod:`~churn.synthetic.paths` re-simulates the paths it changes,
:mod:`~churn.synthetic.uplift` records the true uplift and :mod:`~churn.synthetic.state` reads
and writes the world folder.
"""

from churn.synthetic.campaign import CampaignResult, simulate_campaigns
from churn.synthetic.effects import CampaignConfig, OfferEffect
from churn.synthetic.io import WORLD_FILE, load_truth, save
from churn.synthetic.oracle import oracle_for_rows, oracle_no_purchase, oracle_scorer
from churn.synthetic.simulate import generate
from churn.synthetic.world import EVENT_TYPES, DemoData, WorldConfig

__all__ = [
    "EVENT_TYPES",
    "WORLD_FILE",
    "CampaignConfig",
    "CampaignResult",
    "DemoData",
    "OfferEffect",
    "WorldConfig",
    "generate",
    "load_truth",
    "oracle_for_rows",
    "oracle_no_purchase",
    "oracle_scorer",
    "save",
    "simulate_campaigns",
]
