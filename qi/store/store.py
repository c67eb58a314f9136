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
* :mod:`qi.store.changelog` — change ideas and PDSA cycles, owners, actions, notes;
* :mod:`qi.store.accountability` — reviews of owned measures, reporting gaps (who is
  not expected to report, so a month can be complete without them);
* :mod:`qi.store.phases` — phases recorded from logged changes, with their reasons.

Every change is one transaction together with its audit-log entry: it lands whole or
not at all (see :mod:`qi.store.core` for the write lock).
"""

from __future__ import annotations

from qi.store.accountability import AccountabilityMixin
from qi.store.bulk import BulkImportMixin
from qi.store.phases import PhasesMixin


class Store(BulkImportMixin, AccountabilityMixin, PhasesMixin):
    """A collaborative's data: structure, measure catalogue, versioned observations, change log.

    Open one with :meth:`Store.open`; every method of its parts (:mod:`qi.store.core`,
    :mod:`~qi.store.people`, :mod:`~qi.store.catalogue`, :mod:`~qi.store.uploads`,
    :mod:`~qi.store.bulk`, :mod:`~qi.store.changelog`,
    :mod:`~qi.store.accountability`) is a method of the store.
    """
