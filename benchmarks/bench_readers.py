"""Many readers: twenty sessions open the Board at once (a board meeting).

Each session is the dashboard run by Streamlit's ``AppTest`` in a thread of one
process (as one server runs every session, with one cache shared between them), all
started together on a store with the sample collaborative. As a server's sessions
are, each is told by its run's own event that the run ended (``AppTest`` itself looks
every millisecond, which twenty sessions at once turn into the largest cost of the
run: :func:`_wait_for_the_run`). Prints the median and the 95th percentile of the time
from a session's start to its Board drawn, for

- **a cold server**: the sessions are the first to arrive (nothing cached yet);
- **a warm server**: twenty more sessions after them (what was computed for the
  first is shared);
- **reruns**: each warm session changes the Board's group (Black), as a reader does.

With ``--accounts``, the store has accounts and every session is a different person
signed in (``board01``, ``board02``, ... each a board viewer over the whole
collaborative, as at a board meeting), instead of the single-user local mode.

With ``--server``, the same twenty readers meet a real server instead: ``streamlit
run`` of the dashboard in its own process, each session a websocket client (the
browser's protocol: connect to ``/_stcore/stream``, ask for a run, read the messages
until the run's end), all in one event loop of this process. It prints the cold and
warm figures (choosing a group needs the browser's widget state, so reruns are
AppTest's alone).

Usage::

    python benchmarks/bench_readers.py [--sessions 20] [--db URL] [--server] [--accounts]

Without ``--db``, the sample collaborative is loaded into a new SQLite store first.
Goal (issue 22): p95 under 3 s for twenty sessions at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, app_session, board_viewers, figure, machine, sample_store

APP = ROOT / "dashboard" / "streamlit_app.py"


def _share_the_runtime() -> None:
    """Let AppTests run in threads at once, as sessions of one server do.

    Each ``AppTest.run`` installs Streamlit's runtime singleton (a stand-in) and removes
    it when it ends, which would pull it from under the sessions still running; here a
    session that finds it removed uses the last one installed. Only this benchmark
    does this; the app is not changed by it.
    """
    from streamlit.runtime.runtime import Runtime

    last: list[Runtime] = []
    instance, exists = Runtime.instance.__func__, Runtime.exists.__func__

    def shared_instance(cls):
        if cls._instance is not None:
            last[:] = [cls._instance]
            return cls._instance
        return last[0] if last else instance(cls)

    def shared_exists(cls):
        return cls._instance is not None or bool(last) or exists(cls)

    Runtime.instance = classmethod(shared_instance)
    Runtime.exists = classmethod(shared_exists)

    # A server compiles each page's script once, in the one ScriptCache its sessions
    # share (under a lock); AppTest makes a new cache per run, so twenty sessions would
    # each compile every page, at once -- which CPython 3.11's compiler does not
    # survive in threads ("AST constructor recursion depth mismatch"). Share one.
    from streamlit.runtime.scriptrunner import script_cache
    from streamlit.testing.v1 import app_test, local_script_runner

    one = script_cache.ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: one

    # A server learns that a session's run ended from the run's own event; AppTest
    # polls for it every millisecond. Twenty sessions polling at once wake 20,000
    # times a second, each taking Python's one interpreter lock from the session doing
    # the work (the sample's snapshot and board took 2.0 s instead of 0.7 s): here each
    # session waits for the event, as a server does.
    local_script_runner.require_widgets_deltas = _wait_for_the_run


def _wait_for_the_run(runner, timeout: float = 3) -> None:
    """AppTest's wait for a run's end (``require_widgets_deltas``), told by the run's
    SHUTDOWN event instead of looking every millisecond; on ``timeout``, the same
    stop and error as AppTest's."""
    from streamlit.runtime.scriptrunner import ScriptRunnerEvent

    ended = threading.Event()

    def on_event(sender, event, **kwargs) -> None:
        if event == ScriptRunnerEvent.SHUTDOWN:
            ended.set()

    runner.on_event.connect(on_event, weak=False)
    try:  # (an end before the receiver was connected is in the events already)
        if runner.script_stopped() or ended.wait(timeout):
            return
    finally:
        runner.on_event.disconnect(on_event)
    runner.request_stop()
    runner.join()
    raise RuntimeError(f"AppTest script run timed out after {timeout}(s)")


def _sessions(n: int, step) -> list[float]:
    """Run ``step(i)`` in ``n`` threads started together; the seconds each took."""
    times: list[float | None] = [None] * n
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def one(i: int) -> None:
        start.wait()
        t0 = time.perf_counter()
        try:
            step(i)
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        times[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [t for t in times if t is not None]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_sessions(url: str, n: int) -> None:
    """The cold and warm figures from a real server (``--server``)."""
    import asyncio
    import urllib.request

    port = _free_port()
    env = dict(os.environ, QI_DATABASE_URL=url)
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless=true",
               f"--server.port={port}", "--server.fileWatcherType=none",
               "--browser.gatherUsageStats=false"]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(600):  # (up to a minute for the server to listen)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the Streamlit server did not start")
        _report(f"real server, cold, {n} sessions open the Board",
                asyncio.run(_wave(port, n)))  # fmt: skip
        _report(f"real server, warm, {n} more sessions", asyncio.run(_wave(port, n)))
    finally:
        server.terminate()
        server.wait(30)


async def _wave(port: int, n: int) -> list[float]:
    """``n`` browser sessions opening the app at once: the seconds each took from
    connecting to its run's end, the Board's table among what it was sent."""
    import asyncio

    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    start = asyncio.Event()

    async def one() -> float:
        await start.wait()
        t0 = time.perf_counter()
        stream = f"ws://127.0.0.1:{port}/_stcore/stream"
        async with websockets.connect(stream, subprotocols=["streamlit"], max_size=None) as ws:
            ask = BackMsg()
            ask.rerun_script.query_string = ""
            await ws.send(ask.SerializeToString())
            tables = 0
            while True:
                message = ForwardMsg()
                message.ParseFromString(await asyncio.wait_for(ws.recv(), 120))
                kind = message.WhichOneof("type")
                if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                    tables += message.delta.new_element.WhichOneof("type") == "dataframe"
                if kind == "script_finished":
                    took = time.perf_counter() - t0
                    ok = message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
                    assert ok, f"the run ended with {message.script_finished}"
                    assert tables, "the Board showed no table"
                    return took

    sessions = [asyncio.create_task(one()) for _ in range(n)]
    await asyncio.sleep(0.1)  # every session waiting at the start line
    start.set()
    return list(await asyncio.gather(*sessions))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _report(label: str, times: list[float]) -> None:
    figure(f"{label}: median", statistics.median(times))
    figure(f"{label}: 95th percentile", _p95(times), 3.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--db", default=None, help="a store with data (default: the sample)")
    parser.add_argument("--server", action="store_true",
                        help="a real server's sessions (websocket clients), not AppTest's")
    parser.add_argument("--accounts", action="store_true",
                        help="every session a different board viewer, signed in")
    args = parser.parse_args()
    if args.server and args.accounts:
        parser.error("--accounts is for AppTest's sessions (a token in each session)")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or sample_store(Path(tmp))
        n = args.sessions
        who = ", each a different board viewer" if args.accounts else ""
        print(f"bench_readers: {machine()}; {n} sessions at once on {url.split(':')[0]}{who}")
        if args.server:
            _server_sessions(url, n)
            return
        os.environ["QI_DATABASE_URL"] = url
        _share_the_runtime()

        # (a server looks for custom components once, when it starts; AppTest on each
        # session's first run: done once here, before the clock)
        apps = [app_session(str(APP)) for _ in range(2 * n)]
        if args.accounts:
            from dashboard.session import TOKEN

            for at, token in zip(apps, board_viewers(url, 2 * n)[0], strict=True):
                at.session_state[TOKEN] = token

        def board(i: int) -> None:
            at = apps[i]
            at.run()
            assert not at.exception, at.exception
            assert len(at.dataframe[0].value) > 0, "the Board showed no rows"

        _report(f"cold server, {n} sessions open the Board", _sessions(n, board))
        _report(f"warm server, {n} more sessions", _sessions(n, lambda i: board(n + i)))

        def choose_group(i: int) -> None:
            at = apps[n + i]
            next(s for s in at.selectbox if s.label == "Group").set_value("Black").run()
            assert not at.exception, at.exception
            assert set(at.dataframe[0].value["group"]) == {"Black"}

        _report(f"reruns, {n} sessions choose a group", _sessions(n, choose_group))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
