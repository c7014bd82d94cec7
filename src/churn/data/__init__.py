"""Load the input tables, map their columns to the data contract and validate every row.

The data contract (docs/data-contract.md): transactions are required, customers and events are
optional. A source is a CSV file, a Parquet file, folder (read recursively) or glob, or a table of
a DuckDB database file; its own column names are mapped to contract names through
``data.columns.<table>``. Reading and row validation run as DuckDB SQL.

Nothing is lost: every input row is either used or rejected with a rule code (:data:`RULES`) and a
reason that names the column and shows the bad value. The modules, in the order a load runs:

* :mod:`~churn.data.config`: the ``data`` config node, parsed and checked;
* :mod:`~churn.data.sources`: files, folders, globs and DuckDB tables opened as relations;
* :mod:`~churn.data.columns`: source columns mapped and typed to the contract;
* :mod:`~churn.data.validate`: the row rules, duplicates and the rejects;
* :mod:`~churn.data.load`: :func:`load` and :func:`write_rejects`;
* :mod:`~churn.data.fingerprint`: a stable digest of the validated transactions;
* :mod:`~churn.data.contract`, :mod:`~churn.data.dataset`, :mod:`~churn.data.sql`: the contract's
  fields and rule codes, the result types, and the DuckDB session with its SQL text helpers.
"""

from churn.data.contract import FORMATS, REJECT_COLUMNS, RULES, SUFFIXES, TABLES
from churn.data.dataset import Dataset, MissingInputError, TableReport, TooManyRejectsError
from churn.data.fingerprint import fingerprint
from churn.data.load import load, write_rejects

__all__ = [
    "FORMATS",
    "REJECT_COLUMNS",
    "RULES",
    "SUFFIXES",
    "TABLES",
    "Dataset",
    "MissingInputError",
    "TableReport",
    "TooManyRejectsError",
    "fingerprint",
    "load",
    "write_rejects",
]
