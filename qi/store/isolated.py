"""Checking and storing an upload in a worker process of its own (what the web app does).

The dashboard's server is one process that every signed-in person shares. A file is
read there only within the limits of :mod:`qi.store.limits`, which refuse a hostile
file long before it could exhaust the memory; but a limit is a judgement made while
reading, and a C library that misbehaves (or a case no limit foresaw) would take the
whole server down with it. So the web app reads, checks and stores each upload in a
*worker process* (:func:`validate`, :func:`import_file`), which

* has a hard memory ceiling of its own: :data:`WORKER_MEMORY` bytes of address space
  on top of what it starts with (``RLIMIT_AS``), and :data:`WORKER_CPU_SECONDS` of CPU
  (``RLIMIT_CPU``), so a file that would pass them ends the worker, never the server;
* opens the store itself, acting for the same signed-in session, so nothing but the
  file's bytes goes in and only the result (the checked rows, the problems, or the
  new upload's id) comes back;
* tells the page how far the reading has got (``progress(fraction, rows)``), for a
  progress bar;
* is forked from a small server process started once, with the modules it needs
  already loaded (``forkserver``), so it starts in a few hundredths of a second.

Both limits, the streaming ones and the worker's, are kept: the streaming limits give
the clear message (which limit, how to split the file) and keep the work small; the
worker makes sure that whatever they miss costs one worker, not everyone's session.

An in-memory SQLite store cannot be opened by another process: there the work is done
in this process (still within the streaming limits).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable

import pandas as pd

from qi.store import limits
from qi.store.core import ImportResult, StoreBusy, StoreError
from qi.store.reading import Problem

#: Address space a worker may add to what it starts with (bytes).
WORKER_MEMORY = 2 * limits.MAX_MEMORY
#: CPU time a worker may use (seconds); a million-row workbook needs about 20.
WORKER_CPU_SECONDS = 300
#: Wall-clock time the page waits for a worker (seconds).
WORKER_WAIT_SECONDS = 900
#: How often a worker reports progress (seconds).
_PROGRESS_EVERY = 0.2

Progress = Callable[[float | None, int], None]
_context = None


def _start_method():
    global _context
    if _context is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(["qi.store.isolated", "qi.store"])
        else:  # pragma: no cover - Windows
            _context = multiprocessing.get_context("spawn")
    return _context


def separable(store) -> bool:
    """Whether another process can open ``store`` (not an in-memory SQLite one)."""
    url = store.engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


# ---------------------------------------------------------------------- the page's side
def validate(
    store, content: bytes, name: str, *, progress: Progress | None = None, today=None
) -> tuple[pd.DataFrame, list[Problem]]:
    """What :meth:`qi.store.Store.validate` returns, worked out in a worker process."""
    outcome = _in_worker(store, "validate", content, name, progress, today=today)
    if isinstance(outcome, Problem):
        return pd.DataFrame(), [outcome]
    return outcome


def import_file(
    store,
    content: bytes,
    name: str,
    *,
    user: str = "system",
    note: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    """What :meth:`qi.store.Store.import_file` returns, done in a worker process."""
    outcome = _in_worker(store, "import", content, name, progress, user=user, note=note)
    if isinstance(outcome, Problem):
        return ImportResult(name, None, 0, [outcome])
    return outcome


def _in_worker(store, op: str, content: bytes, name: str, progress, **options):
    job = {
        "op": op,
        "content": content,
        "name": name,
        "options": options,
        "token": store.token,
        "lock_timeout": store.lock_timeout,
        "memory": WORKER_MEMORY,
        "cpu": WORKER_CPU_SECONDS,
    }
    if not separable(store):
        with limits.reporting(progress):
            return _run(store, job)
    job["url"] = store.engine.url.render_as_string(hide_password=False)
    context = _start_method()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_work, args=(sender, job), daemon=True)
    worker.start()
    sender.close()  # the worker holds the only sending end: its death ends the pipe
    deadline = time.monotonic() + WORKER_WAIT_SECONDS
    try:
        while True:
            if receiver.poll(0.25):
                try:
                    message = receiver.recv()
                except EOFError:  # the worker ended without an answer
                    break
                if message[0] == "progress":
                    if progress is not None:
                        progress(message[1], message[2])
                    continue
                return _answer(message, name)
            if time.monotonic() > deadline:
                worker.kill()
                return _stopped(name, f"it took longer than {WORKER_WAIT_SECONDS} s")
    finally:
        receiver.close()
        worker.join(5)
        if worker.is_alive():  # pragma: no cover - a worker stuck after answering
            worker.kill()
            worker.join(5)
    code = worker.exitcode
    why = (
        f"it needed more than the {_size(WORKER_MEMORY)} of memory or "
        f"{WORKER_CPU_SECONDS} s of processor time allowed for one upload"
        if code is None or code < 0 or code == 1
        else f"the checking process stopped (code {code})"
    )
    return _stopped(name, why)


def _stopped(name: str, why: str) -> Problem:
    return Problem(
        name,
        None,
        None,
        f"this file could not be checked: {why}. Nothing was stored; {limits.SPLIT}",
    )


def _answer(message: tuple, name: str):
    from qi.access import AccessDenied

    kind = message[0]
    if kind == "done":
        return message[1]
    if kind == "memory":
        return _stopped(name, f"it needed more than the {_size(WORKER_MEMORY)} of memory allowed")
    refusal = {"access": AccessDenied, "busy": StoreBusy, "store": StoreError}.get(message[1])
    if kind == "refused" and refusal is not None:
        raise refusal(message[2])
    raise RuntimeError(f"checking {name} failed in its worker: {message[-1]}")


# ---------------------------------------------------------------------- the worker's side
def _limit_resources(memory: int, cpu: int) -> None:
    import resource

    try:
        with open("/proc/self/status") as status:
            size = next(int(ln.split()[1]) * 1024 for ln in status if ln.startswith("VmSize"))
    except (OSError, StopIteration, ValueError):  # pragma: no cover - not Linux
        size = 0
    for kind, value in ((resource.RLIMIT_AS, size + memory), (resource.RLIMIT_CPU, cpu)):
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        with contextlib.suppress(ValueError, OSError):  # a platform without the limit
            resource.setrlimit(kind, (value, hard))


def _work(sender, job: dict) -> None:
    """The worker: open the store as the same session, do the job, send the result."""
    from qi.access import AccessDenied

    _limit_resources(job["memory"], job["cpu"])
    last = [0.0]

    def progress(fraction: float | None, rows: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY or fraction == 1.0:
            last[0] = now
            sender.send(("progress", fraction, rows))

    try:
        from qi.store import Store

        opened = Store.open(job["url"], lock_timeout=job["lock_timeout"])
        with opened as store, limits.reporting(progress):
            result = _run(store, job)
        sender.send(("done", result))
    except MemoryError:
        sender.send(("memory",))
    except AccessDenied as exc:
        sender.send(("refused", "access", str(exc)))
    except StoreBusy as exc:
        sender.send(("refused", "busy", str(exc)))
    except StoreError as exc:
        sender.send(("refused", "store", str(exc)))
    except Exception as exc:  # sent back to be raised there, never lost
        sender.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()
        os._exit(0)  # nothing of the parent's (its atexit hooks, its threads) runs here


def _run(store, job: dict):
    acting = store.with_session(job["token"]) if job["token"] else store
    options = job["options"]
    if job["op"] == "validate":
        today = options.get("today")
        return acting.validate(job["content"], job["name"], today=today)
    return acting.import_file(
        job["content"], job["name"], user=options["user"], note=options["note"]
    )


def _size(n: int) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"
