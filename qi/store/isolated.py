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
* is forked from a small helper process started once (``python -m
  qi.store.isolated``), which has the modules it needs already loaded, so a worker
  starts in a few hundredths of a second. (Not ``multiprocessing``: its start methods
  other than a plain fork re-run the parent's main module, which in Streamlit is the
  page being run, and a plain fork of a server with threads is unsafe.)

Both limits, the streaming ones and the worker's, are kept: the streaming limits give
the clear message (which limit, how to split the file) and keep the work small; the
worker makes sure that whatever they miss costs one worker, not everyone's session.

An in-memory SQLite store cannot be opened by another process, and Windows has no
fork: there the work is done in this process (still within the streaming limits).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import pandas as pd

from qi.store import limits
from qi.store.core import ImportResult, StoreBusy, StoreError
from qi.store.intake import Intake
from qi.store.layouts import LayoutError
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


class _Helper:
    """The helper process that forks the workers, and the socket that asks it to."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qi.store.isolated", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.control = ours
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.process.poll() is None

    def new_worker(self) -> Connection:
        """A connection to a new worker (forked by the helper, which is handed its end)."""
        ours, theirs = socket.socketpair()
        try:
            with self.lock:
                socket.send_fds(self.control, [b"w"], [theirs.fileno()])
        finally:
            theirs.close()
        return Connection(ours.detach())


_helper: _Helper | None = None
_helper_lock = threading.Lock()


def _worker() -> Connection:
    global _helper
    with _helper_lock:
        if _helper is None or not _helper.alive():
            _helper = _Helper()
        return _helper.new_worker()


def separable(store) -> bool:
    """Whether another process can open ``store`` (not an in-memory SQLite one)."""
    url = store.engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


# ---------------------------------------------------------------------- the page's side
def check_upload(
    store,
    content: bytes,
    name: str,
    *,
    layout=None,
    progress: Progress | None = None,
    today=None,
) -> tuple[pd.DataFrame, list[Problem], Intake]:
    """What :meth:`qi.store.Store.check_upload` returns, worked out in a worker process.

    The :class:`~qi.store.intake.Intake` that comes back holds how the file was read
    (its notes), not the shaped table (which stays in the worker)."""
    outcome = _in_worker(store, "check", content, name, progress, today=today, layout=layout)
    if isinstance(outcome, Problem):
        return pd.DataFrame(), [outcome], Intake(name, None, [outcome])
    clean, problems, notes = outcome
    return clean, problems, Intake(name, None, list(problems), notes)


def validate(
    store, content: bytes, name: str, *, progress: Progress | None = None, today=None, layout=None
) -> tuple[pd.DataFrame, list[Problem]]:
    """What :meth:`qi.store.Store.validate` returns, worked out in a worker process."""
    clean, problems, _ = check_upload(
        store, content, name, layout=layout, progress=progress, today=today
    )
    return clean, problems


def import_file(
    store,
    content: bytes,
    name: str,
    *,
    user: str = "system",
    note: str = "",
    layout=None,
    progress: Progress | None = None,
) -> ImportResult:
    """What :meth:`qi.store.Store.import_file` returns, done in a worker process."""
    outcome = _in_worker(
        store, "import", content, name, progress, user=user, note=note, layout=layout
    )
    if isinstance(outcome, Problem):
        return ImportResult(name, None, 0, [outcome])
    return outcome


def file_shape(store, content: bytes, name: str, *, sheet=None, header_row=None):
    """What :func:`qi.store.intake.file_shape` returns, worked out in a worker process
    (None if the file cannot be read, or its worker could not finish)."""
    outcome = _in_worker(store, "shape", content, name, None, sheet=sheet, header_row=header_row)
    return None if isinstance(outcome, Problem) else outcome


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
    if not separable(store) or not hasattr(os, "fork"):
        with limits.reporting(progress):
            return _run(store, job)
    job["url"] = store.engine.url.render_as_string(hide_password=False)
    worker = _worker()
    pid, message = None, None
    deadline = time.monotonic() + WORKER_WAIT_SECONDS
    try:
        worker.send(job)
        while True:
            if worker.poll(0.25):
                message = worker.recv()
                if message[0] == "pid":
                    pid, message = message[1], None
                elif message[0] == "progress":
                    if progress is not None:
                        progress(message[1], message[2])
                    message = None
                else:
                    break
            elif time.monotonic() > deadline:
                return _stopped(name, f"it took longer than {WORKER_WAIT_SECONDS} s")
    except (EOFError, OSError):  # the worker ended without an answer: killed by a limit
        return _stopped(
            name,
            f"it needed more than the {_size(WORKER_MEMORY)} of memory or "
            f"{WORKER_CPU_SECONDS} s of processor time allowed for one upload",
        )
    finally:
        worker.close()
        if message is None and pid is not None:  # left early (the page was left): stop it
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    return _answer(message, name)  # (AccessDenied is an OSError: raised out here)


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
    refusal = {
        "access": AccessDenied, "busy": StoreBusy, "layout": LayoutError, "store": StoreError
    }.get(message[1])  # fmt: skip
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


def _work(sender: Connection) -> None:
    """The worker: open the store as the same session, do the job, send the result."""
    from qi.access import AccessDenied

    sender.send(("pid", os.getpid()))
    job = sender.recv()
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
    except LayoutError as exc:
        sender.send(("refused", "layout", str(exc)))
    except StoreError as exc:
        sender.send(("refused", "store", str(exc)))
    except Exception as exc:  # sent back to be raised there, never lost
        sender.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()
        os._exit(0)  # nothing of the helper's (its atexit hooks) runs here


def _run(store, job: dict):
    acting = store.with_session(job["token"]) if job["token"] else store
    options = job["options"]
    layout = options.get("layout")
    if job["op"] == "shape":
        from qi.store.intake import file_shape

        sheet, header_row = options["sheet"], options["header_row"]
        return file_shape(job["content"], job["name"], sheet=sheet, header_row=header_row)
    if job["op"] == "check":
        clean, problems, intake = acting.check_upload(
            job["content"], job["name"], today=options.get("today"), layout=layout
        )
        return clean, problems, intake.notes  # the shaped table stays here
    return acting.import_file(
        job["content"], job["name"], user=options["user"], note=options["note"], layout=layout
    )


def _size(n: int) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def _serve(control_fd: int) -> None:
    """The helper: load the modules once, then fork one worker per connection handed
    over the control socket; stop when the parent goes (the socket closes)."""
    import qi.store  # noqa: F401 - loaded once, for every worker forked from here

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the system
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            break
        if not message:
            break
        for fd in fds:
            if os.fork() == 0:
                control.close()
                _work(Connection(fd))
            os.close(fd)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
