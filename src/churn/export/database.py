"""The at-risk list as a database table (``export.targets`` includes ``postgres``).

Rows are upserted by ``(as_of, customer_id)`` and rows of the same as-of date that are no longer
on the list are deleted, all in one transaction: readers see the previous list or the new one,
and a failed run leaves the previous list intact. Re-running an as-of date replaces its rows.

Credentials never come from config files: the connection uses libpq's environment variables
(``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``, or ``PGSERVICE`` with a
service file), or a full SQLAlchemy URL in the variable named by ``export.postgres.url_env``.
Log lines name the host and table only.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from churn.config import Config
from churn.errors import ConfigError, DataError, ExportError

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
KEY = ("as_of", "customer_id")


@dataclass(frozen=True)
class DatabaseConfig(Config):
    """Where the at-risk list goes (``export.postgres``)."""

    section: ClassVar[str] = "export.postgres"

    table: str = "churn_at_risk"
    schema: str | None = None
    url_env: str = "CHURN_DATABASE_URL"

    def validate(self) -> None:
        """Raise ConfigError unless the names are plain SQL identifiers."""
        target = self
        for name in ("table", "schema"):
            value = getattr(target, name)
            if value is not None and not _IDENTIFIER.fullmatch(value):
                raise ConfigError(
                    f"export.postgres.{name}: expected a plain SQL name (letters, digits, _); "
                    f"got {value!r}"
                )


def engine_url(target: DatabaseConfig) -> str:
    """The SQLAlchemy URL: ``$<url_env>`` when set, else libpq's ``PG*`` variables decide."""
    url = os.environ.get(target.url_env)
    return url if url else "postgresql+psycopg://"


def check_url(target: DatabaseConfig) -> str:
    """The database URL, checked before any work: a PostgreSQL SQLAlchemy URL.

    Raises:
        ConfigError: ``$<url_env>`` is not a URL SQLAlchemy can read, or not PostgreSQL (the
            message never shows the password).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = engine_url(target)
    expected = f"${target.url_env}: expected a URL such as postgresql+psycopg://user@host:5432/db"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as err:
        raise ConfigError(f"{expected}; got a value that is not such a URL") from err
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(f"{expected}; got the backend {parsed.get_backend_name()!r}")
    return url


def check_reachable(target: DatabaseConfig, *, timeout_s: int = 10) -> None:
    """Connect once before any work, so an unreachable database fails the run early.

    Raises:
        ExportError: the database cannot be reached or refused the login.
    """
    import sqlalchemy as sa

    url = check_url(target)
    engine = sa.create_engine(url, connect_args={"connect_timeout": timeout_s})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as err:
        reason = " ".join(str(err).split("\n")[0].split())[:300]
        raise ExportError(
            f"database {_where(url)}: cannot connect before scoring (nothing was written): {reason}"
        ) from err
    finally:
        engine.dispose()


def _where(url: str) -> str:
    """Host and database of a URL or the PG* variables, without user or password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    host = parsed.host or os.environ.get("PGHOST", "localhost")
    port = parsed.port or os.environ.get("PGPORT", "5432")
    database = parsed.database or os.environ.get("PGDATABASE", "")
    return f"{host}:{port}/{database}"


def _frame_for_sql(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values (None for missing) for the database driver."""
    out = frame.astype(object).where(frame.notna(), None)
    records = out.to_dict("records")
    for row in records:
        for key, value in row.items():
            if isinstance(value, np.generic):
                row[key] = value.item()
            elif isinstance(value, pd.Timestamp):
                row[key] = value.to_pydatetime()
    return [{str(k): v for k, v in row.items()} for row in records]


def write_at_risk(at_risk: pd.DataFrame, target: DatabaseConfig, *, as_of: pd.Timestamp) -> int:
    """Replace the as-of date's at-risk rows in the table, in one transaction.

    Returns:
        The number of rows now stored for ``as_of``.

    Raises:
        DataError: the list holds another as-of date or duplicate customers.
        ExportError: the database cannot be reached or refused the rows (the transaction is
            rolled back: the previous list stays).
    """
    import sqlalchemy as sa

    if len(at_risk) and (pd.to_datetime(at_risk["as_of"]) != as_of).any():
        raise DataError(f"write_at_risk: every row must have as_of {as_of.date()}")
    if at_risk["customer_id"].duplicated().any():
        raise DataError("write_at_risk: expected one row per customer; found duplicates")
    url = engine_url(target)
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        stored, removed = _replace(engine, table_for(at_risk, target), at_risk, as_of)
    except sa.exc.SQLAlchemyError as err:
        reason = " ".join(str(err).split("\n")[0].split())[:300]
        raise ExportError(
            f"database {_where(url)}: the at-risk list for {as_of.date()} was not written "
            f"(the previous list is unchanged): {reason}"
        ) from err
    finally:
        engine.dispose()
    name = f"{target.schema}.{target.table}" if target.schema else target.table
    log.info(
        "database %s: %s holds %d at-risk rows for %s (%d upserted, %d removed)",
        _where(url),
        name,
        stored,
        as_of.date(),
        len(at_risk),
        removed,
    )
    return stored


def table_for(at_risk: pd.DataFrame, target: DatabaseConfig) -> Any:
    """The SQLAlchemy table of the at-risk list (key: as_of, customer_id)."""
    import sqlalchemy as sa

    return sa.Table(target.table, sa.MetaData(schema=target.schema), *_columns(at_risk))


def _replace(
    engine: Any, table: Any, at_risk: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[int, int]:
    """Upsert the rows and delete the as-of date's others in one transaction."""
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import insert

    rows = _frame_for_sql(at_risk)
    for row in rows:
        row["as_of"] = as_of.date()
    ids = at_risk["customer_id"].astype(str).tolist()
    with engine.begin() as conn:
        table.metadata.create_all(conn, checkfirst=True)
        if rows:
            statement = insert(table)
            updates: dict[str, Any] = {
                c.name: statement.excluded[c.name]
                for c in table.columns
                if c.name not in (*KEY, "written_at")
            }
            updates["written_at"] = sa.func.now()
            conn.execute(
                statement.on_conflict_do_update(index_elements=list(KEY), set_=updates), rows
            )
        gone = table.delete().where((table.c.as_of == as_of.date()) & ~table.c.customer_id.in_(ids))
        removed = int(conn.execute(gone).rowcount)
        stored = conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.as_of == as_of.date())
        ).scalar_one()
    return int(stored), removed


def _columns(at_risk: pd.DataFrame) -> list[Any]:
    """Table columns for the at-risk list: the key, then typed columns in list order."""
    import sqlalchemy as sa

    columns: list[Any] = [
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("customer_id", sa.Text, primary_key=True),
    ]
    for name in at_risk.columns:
        if name in KEY:
            continue
        dtype = at_risk[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kind: Any = sa.Boolean
        elif pd.api.types.is_integer_dtype(dtype):
            kind = sa.BigInteger
        elif pd.api.types.is_float_dtype(dtype):
            kind = sa.Float
        else:
            kind = sa.Text
        columns.append(sa.Column(str(name), kind))
    columns.append(
        sa.Column("written_at", sa.DateTime(timezone=True), server_default=sa.func.now())
    )
    return columns
