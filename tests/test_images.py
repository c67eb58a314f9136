"""Static chart images (qi.images): the browser's tabs are reused, and images are kept by
the figure's content: the same figure again gives the same image without the browser,
a changed figure is drawn anew."""

from __future__ import annotations

import re

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
    return re.sub(r"\btrace[0-9a-f]{6}\b", "trace", text.replace(uid, "UID"))


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
