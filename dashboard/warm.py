"""The Board made again after a change, before its readers come back for it.

Every cached read (:mod:`dashboard.reads`) is keyed on the store's version, so the first
reader of the Board after an upload waits while the store is read and every series is
charted again: on the sample a second, at a national collaborative (200 teams, 1.4
million rows) about ten. A :class:`Warmer` (one per server process and store) looks at
the store's version every few seconds; when it has changed, it makes the Board again in
the background for each reader scope that read a page of this process recently, with
a store bound to the last person of that scope who did. What it makes is what that
person's next page would make, under the same cache key, so the next reader of the
scope finds it made (or, arriving while it is being made, waits only for the rest).

What it holds: per recent scope (at most :data:`MOST`, the latest read), the store bound
to the last person of that scope who read a page (their session, which the server holds
while their browser session lasts anyway). A scope not read for ``idle`` seconds is
forgotten, and a session the store no longer accepts (signed out, expired, account
disabled) or whose role changed drops its scope at the next change it would be made
for. Nothing is made for a scope no one has read since the process started. When the
version moves again while it works, it stops and starts again from the newest.

``QI_WARM_SECONDS`` sets how often the version is looked at (default 5; 0 turns the
warmer off).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from qi.access import AccessDenied

log = logging.getLogger(__name__)

#: Seconds between two looks at the store's version (``QI_WARM_SECONDS``; 0: off).
EVERY = 5.0
#: A scope no one has read for this many seconds is forgotten.
IDLE = 15 * 60.0
#: At most this many scopes are made again after a change (those read most recently):
#: the dashboard keeps 32 snapshots, and each scope's is made one after another.
MOST = 8


def every_from_environment() -> float:
    """``QI_WARM_SECONDS`` as seconds (the default :data:`EVERY` when unset; 0 when
    it is not a number, so that a typo turns the warmer off rather than on)."""
    raw = os.environ.get("QI_WARM_SECONDS", "").strip()
    if not raw:
        return EVERY
    try:
        every = float(raw)
    except ValueError:
        every = math.nan
    if not math.isfinite(every):
        log.warning("QI_WARM_SECONDS=%r is not a number of seconds: the warmer is off", raw)
        return 0.0
    return max(every, 0.0)


class Warmer:
    """Makes the Board again for recent readers whenever the store's version changes.

    Parameters
    ----------
    version : returns the store's version now (:meth:`qi.store.Store.version`).
    warm : ``warm(version, store)`` makes what a page of the person ``store`` is bound
        to reads first, at ``version``, and returns that person's scope key; it raises
        :class:`~qi.access.AccessDenied` when the store no longer acts for them.
    every : seconds between two looks at the version (0: :meth:`seen` does nothing
        and no thread is started; :meth:`step` may still be called).
    idle : a scope no one has read for this long is forgotten; the thread ends when
        every scope is.
    clock : seconds, for the idle times (a test's own clock).
    """

    def __init__(
        self,
        version: Callable[[], int],
        warm: Callable[[int, Any], str],
        *,
        every: float = EVERY,
        idle: float = IDLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._version = version
        self._warm = warm
        self.every = every
        self.idle = idle
        self._clock = clock
        self._lock = threading.Lock()
        #: scope -> (when it was last read, the store bound to who read it)
        self._readers: dict[str, tuple[float, Any]] = {}
        #: the version the readers have (None: not looked at yet)
        self._known: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ readers
    def seen(self, scope: str, store: Any, version: int) -> None:
        """A page of ``scope`` was read through ``store`` (bound to its reader) at
        ``version``: keep the scope warm from now on, and start the thread if it is not
        running."""
        if self.every <= 0:
            return
        with self._lock:
            self._readers[scope] = (self._clock(), store)
            if self._known is None:  # what was read first is what later looks compare to
                self._known = version
            start = self._thread is None
            if start:
                self._thread = threading.Thread(target=self._run, name="qi-warm-board", daemon=True)
        if start:
            self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread is running."""
        with self._lock:
            return self._thread is not None

    def scopes(self) -> list[str]:
        """The scopes kept warm now."""
        with self._lock:
            return sorted(self._readers)

    # ------------------------------------------------------------------ work
    def step(self) -> list[str]:
        """Look at the version once; when it has changed since the last look, make the
        Board again for the :data:`MOST` scopes read most recently, the latest first
        (stopping if the version moves meanwhile: the next look starts again). Returns
        the scopes made."""
        version = self._version()
        with self._lock:
            known, self._known = self._known, version
            now = self._clock()
            for scope, (when, _) in list(self._readers.items()):
                if now - when > self.idle:
                    del self._readers[scope]
            readers = sorted(self._readers.items(), key=lambda kv: kv[1][0], reverse=True)
        if known is None or known == version:
            return []
        made = []
        for i, (scope, (_, store)) in enumerate(readers[:MOST]):
            if i and self._version() != version:  # changed again: the next look redoes it
                break
            try:
                made_for = self._warm(version, store)
            except AccessDenied:  # signed out, expired, disabled: forget the scope
                self._forget(scope, store)
                continue
            except Exception:  # (kept: the page will say what is wrong when it is read)
                log.exception("making the Board again for scope %r failed", scope)
                continue
            if made_for != scope:  # their role changed: the cache key is another one
                self._forget(scope, store)
            made.append(made_for)
        return made

    def stop(self) -> None:
        """End the thread (at its next look)."""
        self._stop.set()

    def _forget(self, scope: str, store: Any) -> None:
        with self._lock:
            if scope in self._readers and self._readers[scope][1] is store:
                del self._readers[scope]

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    self.step()
                except Exception:  # the store cannot be read now: again at the next look
                    log.debug("looking at the store's version failed", exc_info=True)
                with self._lock:
                    if not self._readers:  # everyone gone: it ends (seen() starts it again)
                        return
        finally:
            with self._lock:
                self._thread = None
