"""Static chart images (qi.images): the browser's tabs are reused, and images are kept by
the figure's content: the same figure again gives the same image without the browser,
a changed figure is drawn anew."""

from __future__ import annotations

import re
import time

import plotly.graph_objects as go
import pytest

from qi import images


def _figure(title: str = "Falls per 1,000 bed days", y=(3, 5, 4, 6)) -> go.Figure:
    fig = go.Figure(go.Scatter(x=["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"],
                               y=list(y), mode="lines+markers"))  # fmt: skip
    return fig.update_layout(title=title, height=300, width=600)


def _same_drawing(svg: bytes) -> str:
    """The SVG without plotly's random ids of the drawing (its clip paths are named by
    it) and of each trace."""
    text = svg.decode()
    uid = re.search(r'id="defs-([0-9a-f]+)"', text).group(1)
    text = re.sub(r"\btrace[0-9a-f]{6}\b", "trace", text.replace(uid, "UID"))
    # and each element's attributes in one order (a browser tab may write them in another)
    attribute = re.compile(r'([\w:.-]+)="([^"]*)"')

    def ordered(tag: re.Match) -> str:
        return f"<{tag[1]} {' '.join(sorted(m[0] for m in attribute.finditer(tag[2])))}{tag[3]}>"

    return re.sub(r"<([\w:-]+)\s([^<>]*?)(/?)>", ordered, text)


@pytest.fixture
def renders(monkeypatch):
    """Counts the figures handed to the browser."""
    browser = images._get()
    sent = []
    real = browser.submit

    def counting(fig, opts):
        sent.append(opts)
        return real(fig, opts)

    monkeypatch.setattr(browser, "submit", counting)
    images.clear_cache()
    yield sent
    images.clear_cache()


def test_the_same_figure_is_drawn_once_and_gives_the_same_image(renders):
    first = images.image(_figure(), "svg", width=600)
    again = images.image(_figure(), "svg", width=600)
    assert len(renders) == 1
    assert again == first
    # the kept image is the one the browser draws without the cache
    images.clear_cache()
    uncached = images.image(_figure(), "svg", width=600)
    assert len(renders) == 2
    assert _same_drawing(uncached) == _same_drawing(first)
    assert "Falls per 1,000 bed days" in first.decode()


def test_a_changed_figure_or_size_is_drawn_again(renders):
    first = images.image(_figure(), "svg", width=600)
    retitled = images.image(_figure("Falls, new title"), "svg", width=600)
    moved = images.image(_figure(y=(3, 5, 4, 9)), "svg", width=600)
    wider = images.image(_figure(), "svg", width=700)
    png = images.image(_figure(), "png", width=600)
    assert len(renders) == 5
    assert "Falls, new title" in retitled.decode() and "Falls, new title" not in first.decode()
    assert _same_drawing(moved) != _same_drawing(first)
    assert 'width="700"' in wider.decode()
    assert png.startswith(b"\x89PNG")


def test_a_failed_render_is_not_kept(renders, monkeypatch):
    from concurrent.futures import Future

    browser = images._get()

    def failing(fig, opts):
        renders.append(opts)
        future: Future = Future()
        future.set_exception(RuntimeError("the browser went away"))
        return future

    monkeypatch.setattr(browser, "submit", failing)
    with pytest.raises(RuntimeError, match="went away"):
        images.image(_figure(), "svg", width=600)
    monkeypatch.undo()  # the browser draws again: the failure was not kept
    assert images.image(_figure(), "svg", width=600).startswith(b"<svg")


def test_the_browser_reuses_its_tabs_between_images():
    """kaleido reloads a tab (parsing plotly.js again) after each image; the browser here
    reloads one only every RELOAD_EVERY images (a kaleido without the hook is used as it
    is, which this kaleido is not)."""
    images.clear_cache()
    kaleido = images._get().kaleido
    assert type(kaleido).__name__ == "Reusing"
    before = kaleido._qi_images, kaleido._qi_reloads
    for i in range(4):
        images.image(_figure(f"Chart {i}"), "svg", width=600)
    assert kaleido._qi_images - before[0] == 4
    assert kaleido._qi_reloads - before[1] <= 4 // images.RELOAD_EVERY + 1


def test_a_render_stuck_past_its_time_is_drawn_again_and_a_closed_browser_s_are_dropped(renders):
    """A render still pending is shared while it may yet finish; one pending longer than
    a render may take (a hung browser), or left in a browser that was closed, is never
    handed out again: the next request draws the figure anew."""
    from concurrent.futures import Future

    first = images.image(_figure(), "svg", width=600)
    (key,) = images._cache
    stuck: Future[bytes] = Future()  # never finishes
    images._cache[key] = (stuck, time.monotonic())  # pending, within its time: shared
    assert images.submit(_figure(), "svg", width=600) is stuck
    assert len(renders) == 1
    images._cache[key] = (stuck, time.monotonic() - images.TIMEOUT - 1)  # past its time
    again = images.submit(_figure(), "svg", width=600)
    assert again is not stuck and len(renders) == 2
    assert _same_drawing(again.result(timeout=60)) == _same_drawing(first)
    images._cache[key] = (stuck, time.monotonic())
    images.shutdown()  # the browser closed with the render pending: dropped
    assert key not in images._cache


def _run_chart():
    import numpy as np
    import pandas as pd

    import qi
    from qi.figures import spc_figure

    rng = np.random.default_rng(4)
    data = pd.DataFrame({
        "period": np.tile(pd.date_range("2024-01-01", periods=24, freq="MS"), 2),
        "group": np.repeat(["All", "Black"], 24), "n": 400, "y": rng.poisson(40, 48),
    })  # fmt: skip
    result = qi.spc(data, y="y", n="n", x="period", by="group", chart="p", rules="mdc")
    return spc_figure(result.points, group="group", rules="mdc", title="Seclusion", width=800)


def _funnel_chart():
    import pandas as pd

    from qi.figures import funnel_figure

    points = pd.DataFrame({"group": ["Cedar Ward", "Rowan Ward", "Willow Ward"],
                           "denominator": [6000.0, 9000.0, 7000.0],
                           "value": [12.0, 14.0, 30.0]})  # fmt: skip
    limits = pd.DataFrame({"denominator": [5000.0, 10000.0], "target": [13.0, 13.0],
                           "lcl95": [10.0, 11.0], "ucl95": [16.0, 15.0],
                           "lcl998": [8.0, 9.0], "ucl998": [18.0, 17.0]})  # fmt: skip
    return funnel_figure(points, limits, title="Restraint", y_title="per 1,000",
                         improvement="decrease", width=800, height=500)  # fmt: skip


@pytest.mark.parametrize("make", [_run_chart, _funnel_chart], ids=["spc", "funnel"])
def test_the_charts_template_draws_as_plotly_white(renders, make):
    """The charts carry plotly_white's layout of x and y axes and its scatter defaults
    only (setting the whole template checks the defaults of twenty kinds of trace and
    of polar, ternary, 3D and map axes): drawn the same."""
    ours = make()
    white = go.Figure(ours).update_layout(template="plotly_white")
    assert ours.layout.template.to_plotly_json() != white.layout.template.to_plotly_json()
    assert "polar" not in ours.layout.template.layout.to_plotly_json()
    drawn = [images.image(f, "svg", width=800, height=500) for f in (ours, white)]
    assert len(renders) == 2
    assert _same_drawing(drawn[0]) == _same_drawing(drawn[1])


def test_a_page_is_printed_with_scripts_off_and_leaves_no_file(tmp_path, monkeypatch):
    import io

    from pypdf import PdfReader

    images._get()  # started before the page's folder is changed (it keeps its own)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    html = (
        '<!doctype html><html lang="en"><head><style>@page { size: A4 landscape; }</style>'
        '</head><body><h1>Board</h1><p id="x">as typed</p>'
        "<script>document.getElementById('x').textContent = 'ran';</script></body></html>"
    )
    pdf = PdfReader(io.BytesIO(images.print_pdf(html)))
    text = pdf.pages[0].extract_text()
    assert "as typed" in text and "ran" not in text
    # the page size the style sheet asks for: A4 landscape, 842 × 595 points
    box = pdf.pages[0].mediabox
    assert round(float(box.width)) == 842 and round(float(box.height)) == 595
    assert list(tmp_path.glob("*qi-print-*")) == []  # the page's file is gone


def test_a_print_that_never_finishes_fails_in_time_and_closes_its_tab(monkeypatch):
    import socket

    browser = images._get()
    tabs = len(browser.kaleido.tabs)
    # a server that takes the connection and never answers: the page never loads
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        monkeypatch.setattr(images, "TIMEOUT", 2.0)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="did not finish printing the PDF within 2 s"):
            images.print_pdf(f'<p>x</p><img src="http://127.0.0.1:{port}/never.png">')
        assert time.monotonic() - started < 20
    for _ in range(50):  # the tab is closed as the print is cancelled, on the browser's loop
        if len(browser.kaleido.tabs) == tabs:
            break
        time.sleep(0.1)
    assert len(browser.kaleido.tabs) == tabs
    monkeypatch.undo()
    assert b"%PDF" in images.print_pdf("<p>the browser still prints</p>")[:8]


def test_a_browser_that_died_is_started_again():
    browser = images._get()
    browser.kaleido.subprocess.kill()  # as a crash would end it
    browser.kaleido.subprocess.wait(timeout=30)
    assert not browser.alive()
    assert b"%PDF" in images.print_pdf("<p>printed by another browser</p>")[:8]
    again = images._get()
    assert again is not browser and again.alive()
    assert images.image(_figure(title="After the crash"), "svg").startswith(b"<svg")


def test_a_figure_submitted_while_the_browser_starts_does_not_wait_for_it(monkeypatch):
    """A board pack starts the browser in the background and goes on building charts: a
    chart submitted before the browser is ready is a pending render, drawn once it is,
    and its caller is not held up meanwhile. A browser that then fails to start fails
    the render with its error."""
    images.shutdown()
    images.clear_cache()
    import threading

    submitted = []
    caller = threading.Thread(
        target=lambda: submitted.append(images.submit(_figure(title="Early"), "svg", width=600))
    )
    with images._lock:  # as while another thread starts the browser
        caller.start()
        caller.join(timeout=10)
        assert submitted, "submit() waited for the browser to start"
        (pending,) = submitted
        assert not pending.done()
    assert pending.result(timeout=120).startswith(b"<svg")
    assert images._browser is not None and images._browser.alive()

    images.shutdown()

    class Broken:
        def __init__(self, tabs):
            raise RuntimeError("no browser here")

    monkeypatch.setattr(images, "_Browser", Broken)
    with images._lock:
        failing = images.submit(_figure(title="Never drawn"), "svg", width=600)
    with pytest.raises(RuntimeError, match="no browser here"):
        failing.result(timeout=30)
    # a failed render is not kept: the next request tries again
    assert all(future is not failing for future, _ in images._cache.values())
    monkeypatch.undo()
    assert images.image(_figure(title="Never drawn"), "svg", width=600).startswith(b"<svg")
