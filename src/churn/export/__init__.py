"""What a scoring run hands to a retention team: the export folder, its manifest, a database table.

:mod:`~churn.export.files` writes ``exports/<as_of>/`` atomically and reads the contact policy's
inputs (the suppression list, who was offered within the cooldown); :mod:`~churn.export.manifest`
builds its ``manifest.json``; :mod:`~churn.export.database` writes the at-risk list to
PostgreSQL in one transaction.
"""

from churn.export.database import (
    KEY,
    DatabaseConfig,
    check_reachable,
    check_url,
    engine_url,
    table_for,
    write_at_risk,
)
from churn.export.files import (
    AT_RISK_CSV,
    AT_RISK_PARQUET,
    MANIFEST,
    REJECTS,
    SCORES,
    export_folder,
    open_campaigns,
    read_suppression,
    recently_offered,
    write_exports,
    write_run,
)
from churn.export.manifest import ExportManifest, ScoredWith, build_manifest

__all__ = [
    "AT_RISK_CSV",
    "AT_RISK_PARQUET",
    "KEY",
    "MANIFEST",
    "REJECTS",
    "SCORES",
    "DatabaseConfig",
    "ExportManifest",
    "ScoredWith",
    "build_manifest",
    "check_reachable",
    "check_url",
    "engine_url",
    "export_folder",
    "open_campaigns",
    "read_suppression",
    "recently_offered",
    "table_for",
    "write_at_risk",
    "write_exports",
    "write_run",
]
