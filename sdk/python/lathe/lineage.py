"""Lineage edges from a job run: which datasets it read and which it wrote.

    import lathe
    lathe.lineage.used("default.telco_churn@cm")         # a Hive table (db.table@cluster)
    lathe.lineage.used("s3://bucket/churn.parquet")      # any URI
    lathe.lineage.used("data/churn.csv")                 # a file of the project
    lathe.lineage.produced("models/churn.pkl")

Files a run writes into the project are recorded without this; `produced` adds the ones written
elsewhere, or names them before the run ends. Each call is one request to the server.
"""

import os

from . import _client
from .errors import LatheError

MAX_NAMES = 1000
MAX_NAME_LENGTH = 4096


def _names(values):
    names = []
    for value in values:
        items = value if isinstance(value, (list, tuple, set)) else [value]
        for item in items:
            if isinstance(item, os.PathLike):
                item = os.fspath(item)
            if not isinstance(item, str) or not item.strip():
                raise LatheError("a dataset is a non-empty string or path, not %r" % (item,))
            if len(item) > MAX_NAME_LENGTH:
                raise LatheError("a dataset name is at most %d characters" % MAX_NAME_LENGTH)
            names.append(item.strip())
    if not names:
        raise LatheError("name at least one dataset")
    if len(names) > MAX_NAMES:
        raise LatheError("at most %d datasets per call" % MAX_NAMES)
    return names


def _path():
    return _client.run_path("lathe.lineage.used and produced") + "/lineage"


def used(*datasets):
    """Records that this run read the datasets (Hive tables, URIs or project files)."""
    return _client.post(_path(), {"used": _names(datasets)})


def produced(*datasets):
    """Records that this run wrote the datasets (project files, URIs or tables)."""
    return _client.post(_path(), {"produced": _names(datasets)})
