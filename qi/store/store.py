"""The store: one interface over SQLite (the default) and PostgreSQL.

>>> store = Store.open("sqlite:///qi.db")          # doctest: +SKIP
>>> store.register_teams("teams.csv")              # doctest: +SKIP
>>> store.load_measures("measures.csv")            # doctest: +SKIP
>>> result = store.import_file("march.csv", user="ward-manager")  # doctest: +SKIP
>>> result.upload_id, result.problems              # doctest: +SKIP
>>> data = store.observations(measures=["restraint"], as_of="2026-01-31")  # doctest: +SKIP

:class:`Store` is composed of its parts, one module each, by concept:

* :mod:`qi.store.core` — connecting, transactions and the write lock, the audit-log
  entry every change writes, the store's version, the errors;
* :mod:`qi.store.people` — accounts, sessions, role grants and the access checks;
* :mod:`qi.store.catalogue` — teams, the measure catalogue, group aliases;
* :mod:`qi.store.uploads` — validating, importing and rolling back uploads, reading
  what is shown (now or as of an instant), export; :mod:`qi.store.bulk` — many
  uploads checked and stored at once;
* :mod:`qi.store.changelog` — change ideas and PDSA cycles, owners, actions, notes.

Every change is one transaction together with its audit-log entry: it lands whole or
not at all (see :mod:`qi.store.core` for the write lock).
"""

from __future__ import annotations

from qi.store.bulk import BulkImportMixin
from qi.store.catalogue import IMPROVEMENTS
from qi.store.changelog import LIVED_EXPERIENCE, PDSA_STAGES, ChangeLogMixin
from qi.store.core import (
    ENV_URL,
    ImportResult,
    StoreBusy,
    StoreError,
    UploadRejected,
    as_utc,
    default_url,
    utcnow,
)
from qi.store.uploads import OBSERVATION_COLUMNS

# Names that lived here before the split, still importable from here for old imports
# (``qi.store.store.as_utc`` in the tests, ``PDSA_STAGES`` and ``LIVED_EXPERIENCE`` in
# the change-log page); new code imports them from their own module.
__all__ = [
    "ENV_URL",
    "IMPROVEMENTS",
    "LIVED_EXPERIENCE",
    "OBSERVATION_COLUMNS",
    "PDSA_STAGES",
    "ImportResult",
    "Store",
    "StoreBusy",
    "StoreError",
    "UploadRejected",
    "as_utc",
    "default_url",
    "utcnow",
]


class Store(BulkImportMixin, ChangeLogMixin):
    """A collaborative's data: structure, measure catalogue, versioned observations, change log.

    Open one with :meth:`Store.open`; every method of its parts (:mod:`qi.store.core`,
    :mod:`~qi.store.people`, :mod:`~qi.store.catalogue`, :mod:`~qi.store.uploads`,
    :mod:`~qi.store.changelog`) is a method of the store.
    """
