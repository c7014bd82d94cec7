"""The BG/NBD "buy till you die" model of repeat purchasing, with numpy and scipy only.

Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", *Marketing Science* 24(2), 275-284 (FHL below). While active, a customer buys
at the times of a Poisson process with rate ``lambda ~ Gamma(r, rate=alpha)``; after each repeat
purchase they drop out for good with probability ``p ~ Beta(a, b)``. The first purchase, at time
0, starts the clock and cannot end it, so a customer with no repeat purchase is surely alive.

Every function takes the usual per-customer summary, in whatever time unit the caller chooses
(days, weeks), the same for all three arrays and for the fitted ``alpha``:

* ``frequency`` ``x``: the number of repeat purchases (purchase periods after the first),
* ``recency`` ``t_x``: the time of the last purchase, measured from the first purchase,
* ``T``: the time from the first purchase to the end of observation,

with ``T >= t_x >= 0`` and ``t_x == 0`` whenever ``x == 0`` (fitting also needs ``t_x > 0``
whenever ``x > 0``). Arrays of one shape go in, an array of that shape comes out; nothing loops
over customers.

Spend per transaction is modelled by Gamma-Gamma (:mod:`churn.btyd.gamma_gamma`), on the
repeat buyers' frequency and mean spend.
"""

from churn.btyd.fit import BGNBDParams, ConvergenceError, fit_bgnbd, log_likelihood
from churn.btyd.gamma_gamma import (
    GammaGammaParams,
    IndependenceCheck,
    conditional_expected_spend,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    simulate_gamma_gamma,
    spend_frequency_independence,
)
from churn.btyd.predict import expected_purchases, p_alive, p_no_purchase, simulate_bgnbd

__all__ = [
    "BGNBDParams",
    "ConvergenceError",
    "GammaGammaParams",
    "IndependenceCheck",
    "conditional_expected_spend",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "log_likelihood",
    "p_alive",
    "p_no_purchase",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "spend_frequency_independence",
]
