"""Static images (SVG, PNG, PDF) of plotly figures: plotly's own export, kaleido.

kaleido 1.x renders a figure in a headless Chromium (Debian's ``chromium``, found on
the PATH or at ``BROWSER_PATH``; nothing is ever downloaded). Starting the browser
takes a second or two, so one browser is started per process, the first time an
image is asked for, and reused: the dashboard's chart downloads and every board pack
share it.

Why not ``kaleido.start_sync_server()``: its queue hands results back in the order
they finish, so two threads (two dashboard sessions) could swap images, and it renders
one figure at a time. Here the browser runs on its own event-loop thread with
:data:`TABS` tabs, and each request is a future of its own: :func:`submit` returns at
once, so a caller can build the next figure while the browser draws the last one.

kaleido reloads a tab after every image (parsing plotly.js again), which is most of
an image's cost: 40 charts take about 8 s with it and 2.5 s without. Here a tab is
reloaded after every :data:`RELOAD_EVERY` images instead (still bounding what a tab
can accumulate). That overrides one of kaleido's private methods; where a kaleido
version lacks it, the stock class is used unchanged.

MathJax is switched off: kaleido would load it from a CDN, which on a machine
without internet access stalls some renders by seconds; the figures use no LaTeX.

Images are kept by content: a figure asked for again (the same JSON, format and size;
a second board pack of the same data, a chart downloaded twice) gets the image already
drawn, or the render still in flight, and the browser is not asked again. A change to
anything in the figure (a point, a title, a note) makes another key. The last
:data:`CACHED` images are kept; a render that failed is not kept.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path

import plotly.graph_objects as go

#: Browser tabs rendering at once.
TABS = 2
#: Seconds a single render may take before it fails.
TIMEOUT = 90.0
FORMATS = ("svg", "png", "pdf")
#: A tab is reloaded after this many images (kaleido reloads after each one).
RELOAD_EVERY = 25
#: Images kept by content (a board pack has about 45; an SVG chart is 10–40 kB).
CACHED = 256

#: Options of Chromium's ``Page.printToPDF``: the page size and margins the HTML's
#: ``@page`` rule sets, backgrounds printed, and a tagged PDF (headings, tables and
#: images' alternative text for screen readers) with an outline made of its headings.
PRINT_OPTIONS = {
    "preferCSSPageSize": True,
    "printBackground": True,
    "generateTaggedPDF": True,
    "generateDocumentOutline": True,
}

_lock = threading.Lock()
_browser: _Browser | None = None
_cache: OrderedDict[str, tuple[Future[bytes], float]] = OrderedDict()
_cache_lock = threading.Lock()


def _kaleido_class():
    """kaleido's browser class, reloading tabs every :data:`RELOAD_EVERY` images."""
    import kaleido

    base = kaleido.Kaleido
    if not hasattr(base, "_return_kaleido_tab"):
        return base  # a kaleido that works otherwise: leave it as it is

    class Reusing(base):
        _qi_images = 0
        _qi_reloads = 0

        async def _return_kaleido_tab(self, tab) -> None:
            # kaleido 1.x makes its queue of ready tabs in __init__ (the class only
            # annotates it), so it is looked for here, on the instance
            ready = getattr(self, "tabs_ready", None)
            self._qi_images += 1
            if ready is None or self._qi_images % RELOAD_EVERY == 0:
                self._qi_reloads += 1
                await super()._return_kaleido_tab(tab)
            else:
                await ready.put(tab)

    return Reusing


class _Browser:
    """A kaleido browser on a daemon thread with its own event loop."""

    def __init__(self, tabs: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="qi-kaleido", daemon=True)
        self.thread.start()
        self.kaleido = None
        try:
            cls = _kaleido_class()
            try:
                self.kaleido = cls(n=tabs, timeout=TIMEOUT, mathjax=False)
            except TypeError:  # a kaleido without the mathjax option
                self.kaleido = cls(n=tabs, timeout=TIMEOUT)
            asyncio.run_coroutine_threadsafe(self.kaleido.open(), self.loop).result(timeout=120)
        except BaseException:
            # a browser that did not start leaves no thread, loop or process behind:
            # the next image tries again, and each failed try would otherwise keep its own
            with contextlib.suppress(Exception):
                self.close()
            raise

    def submit(self, fig: go.Figure | dict, opts: dict) -> Future[bytes]:
        return asyncio.run_coroutine_threadsafe(self.kaleido.calc_fig(fig, opts=opts), self.loop)

    def alive(self) -> bool:
        """False once the browser's process has ended (a crash: choreographer's watchdog
        closes it); True where this kaleido does not say."""
        process = getattr(self.kaleido, "subprocess", None)
        return process is None or process.poll() is None

    def print_pdf(self, html: str, options: dict) -> bytes:
        """``html`` printed to PDF in a tab of its own; the page is written to a file the
        browser can read (in the home folder where /tmp is the browser's own, as for a
        snap-packaged Chromium) and removed after."""
        isolated = getattr(self.kaleido, "is_isolated", lambda: False)()
        fd, path = tempfile.mkstemp(
            suffix=".html", prefix=".qi-print-", dir=str(Path.home()) if isolated else None
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(html)
            printing = asyncio.wait_for(self._print(path, options), TIMEOUT)
            future = asyncio.run_coroutine_threadsafe(printing, self.loop)
            try:
                return future.result(timeout=TIMEOUT + 30)
            except TimeoutError:  # the tab is closed as the print is cancelled
                future.cancel()
                raise RuntimeError(
                    f"the browser did not finish printing the PDF within {TIMEOUT:.0f} s: "
                    "build it again (a browser that stopped is started afresh)"
                ) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def _print(self, path: str, options: dict) -> bytes:
        # a tab of its own (kaleido's tabs hold its plotting page), closed after
        tab = None
        try:
            tab = await self.kaleido.create_tab("about:blank")
            # the page is ours and has no script, but it holds text people typed:
            # nothing in it may run, whatever a bug in escaping let through
            off = {"value": True}
            _checked(await tab.send_command("Emulation.setScriptExecutionDisabled", off))
            _checked(await tab.send_command("Page.enable"))
            loaded = tab.subscribe_once("Page.loadEventFired")
            url = Path(path).as_uri()
            went = _checked(await tab.send_command("Page.navigate", {"url": url}))
            if went.get("result", {}).get("errorText"):  # its error page would be printed
                raise RuntimeError(f"the browser could not open the page: {went['result']}")
            await loaded  # every image (charts and icons are data: URIs) decoded
            printed = _checked(await tab.send_command("Page.printToPDF", options))
            return base64.b64decode(printed["result"]["data"])
        finally:
            if tab is not None:
                with contextlib.suppress(Exception):
                    await self.kaleido.close_tab(tab.target_id)

    def close(self) -> None:
        try:
            if self.kaleido is not None:
                closing = asyncio.run_coroutine_threadsafe(self.kaleido.close(), self.loop)
                closing.result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            if not self.thread.is_alive():
                self.loop.close()


def _checked(response: dict) -> dict:
    """A DevTools response, or the error it carries raised."""
    if "error" in response:
        raise RuntimeError(f"the browser refused: {response['error']}")
    return response


def _get() -> _Browser:
    global _browser
    if _browser is not None and not _browser.alive():
        with contextlib.suppress(Exception):  # closing what is left of it may fail
            shutdown()  # it crashed: start another (its pending renders are dropped)
    with _lock:
        if _browser is None:
            _browser = _Browser(TABS)
            atexit.register(shutdown)
        return _browser


def start() -> None:
    """Start the browser in the background (it takes a second or two), so that it is
    ready by the time the first figure is built; figures submitted before it is ready
    wait for it without holding up their caller."""

    def quietly() -> None:
        try:
            _get()
        except Exception:  # submit() starts it again and raises the error
            return

    if _browser is None:
        threading.Thread(target=quietly, name="qi-kaleido-start", daemon=True).start()


def shutdown() -> None:
    """Close the browser (it is started again when next needed).

    choreographer wraps the browser's life in ``warnings.catch_warnings()`` on its own
    thread, so closing it puts back the warning filters of the moment it started: a
    test suite should close it before restoring its own filters (tests/conftest.py)."""
    global _browser
    with _lock:
        browser, _browser = _browser, None
    if browser is not None:
        browser.close()
    with _cache_lock:  # renders still pending in the closed browser never finish
        for key in [k for k, (future, _) in _cache.items() if not future.done()]:
            del _cache[key]


def submit(
    fig: go.Figure,
    format: str = "svg",
    *,
    width: int = 1000,
    height: int | None = None,
    scale: float = 1,
) -> Future[bytes]:
    """Start rendering ``fig``; the future's result is the image's bytes."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    height = height or int(fig.layout.height or 500)
    opts = {"format": format, "width": width, "height": height, "scale": scale}
    # the figure is serialised here, on the caller's thread: the caller may change it next
    from plotly.io.json import to_json_plotly

    spec = to_json_plotly(fig.to_dict())
    key = hashlib.sha256(f"{json.dumps(opts, sort_keys=True)}\n{spec}".encode()).hexdigest()
    with _cache_lock:
        kept, since = _cache.get(key, (None, 0.0))
        # a render pending longer than a render may take is stuck: draw it again
        if kept is not None and (kept.done() or time.monotonic() - since < TIMEOUT):
            _cache.move_to_end(key)
            return kept
    future = _render(json.loads(spec), opts)
    with _cache_lock:
        _cache[key] = (future, time.monotonic())
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    future.add_done_callback(lambda done: _forget_failed(key, done))
    return future


def _render(spec: dict, opts: dict) -> Future[bytes]:
    """The browser's render of ``spec``; while the browser is still starting (a board
    pack's first charts), the request waits for it on a thread of its own and the
    caller goes on building the next figure."""
    browser = _browser
    if browser is not None and browser.alive():
        return browser.submit(spec, opts)
    if not _lock.locked():  # nobody is starting it: start it here (an error raises here)
        return _get().submit(spec, opts)
    outer: Future[bytes] = Future()

    def when_ready() -> None:
        try:
            inner = _get().submit(spec, opts)
        except BaseException as error:  # the browser did not start: the caller sees why
            outer.set_exception(error)
            return
        inner.add_done_callback(lambda done: _pass_on(done, outer))

    threading.Thread(target=when_ready, name="qi-kaleido-wait", daemon=True).start()
    return outer


def _pass_on(done: Future, outer: Future) -> None:
    """``outer`` settled as ``done`` was (a result, an error, or cancelled)."""
    if outer.done():  # cancelled by its caller meanwhile
        return
    if done.cancelled():
        outer.cancel()
    elif done.exception() is not None:
        outer.set_exception(done.exception())
    else:
        outer.set_result(done.result())


def _forget_failed(key: str, future: Future) -> None:
    """Drop a failed or cancelled render from the cache (the next request tries again)."""
    if not future.cancelled() and future.exception() is None:
        return
    with _cache_lock:
        if _cache.get(key, (None,))[0] is future:
            del _cache[key]


def clear_cache() -> None:
    """Forget every image kept (the next request of each is drawn again)."""
    with _cache_lock:
        _cache.clear()


def image(
    fig: go.Figure,
    format: str = "svg",
    *,
    width: int = 1000,
    height: int | None = None,
    scale: float = 1,
) -> bytes:
    """``fig`` as SVG, PNG or PDF bytes (``height`` defaults to the figure's own)."""
    return submit(fig, format, width=width, height=height, scale=scale).result(timeout=TIMEOUT + 30)


def print_pdf(html: str) -> bytes:
    """``html`` (a whole document, every image inline) printed to PDF by the browser
    that draws the charts, in a tab of its own with scripts off (and, for the board
    pack, a content security policy that lets the page load nothing)."""
    return _get().print_pdf(html, PRINT_OPTIONS)
