"""Event features (complaints, tickets, last NPS answer) joined to the feature query."""

from __future__ import annotations

import logging

import ibis
import ibis.expr.types as ir

from churn.features.aggregates import _days
from churn.features.config import FeatureConfig

log = logging.getLogger(__name__)


def _with_event_features(
    features: ir.Table, events: ir.Table, cut: ir.Table, config: FeatureConfig
) -> ir.Table:
    ev = events.mutate(
        ts=_days(events.timestamp), is_nps=(events.type == "nps") & events.value.notnull()
    )
    # the latest answer before c is the one whose next answer comes at c or later
    by_kind = ibis.window(group_by=[ev.customer_id, ev.is_nps], order_by=[ev.timestamp, ev.value])
    ev = ev.mutate(next_ts=ev.timestamp.lead().over(by_kind))
    joined = ev.join(cut, ev.timestamp < cut.cutoff)
    recent = _days(joined.cutoff) - joined.ts <= config.event_days
    is_last_nps = joined.is_nps & (joined.next_ts.isnull() | (joined.next_ts >= joined.cutoff))
    e = config.event_days
    agg = joined.group_by(["customer_id", "cutoff"]).aggregate(
        **{
            f"complaints_{e}d": joined.ts.count(where=recent & (joined.type == "complaint")),
            f"tickets_{e}d": joined.ts.count(where=recent & (joined.type == "support_ticket")),
            "last_nps": joined.value.max(where=is_last_nps),
        }
    )
    out = features.left_join(
        agg, [features.customer_id == agg.customer_id, features.cutoff == agg.cutoff]
    ).select(features, agg[f"complaints_{e}d"], agg[f"tickets_{e}d"], agg.last_nps)
    return out.mutate(
        **{
            f"complaints_{e}d": out[f"complaints_{e}d"].fill_null(0),
            f"tickets_{e}d": out[f"tickets_{e}d"].fill_null(0),
            "nps_detractor": ibis.cases(
                (out.last_nps.isnull(), ibis.null("float64")),
                (out.last_nps <= 6, 1.0),
                else_=0.0,
            ),
        }
    )
