"""The dashboard in a real browser: upload a file, open a team's chart and the board.

Screenshots are saved under ``artifacts/browser/`` for a person to look at.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS

UPLOAD = (
    "team,measure,period,group,numerator,denominator\n"
    "Willow Ward,restraint_per_1000_obd,2026-10,Black,2,140\n"
    "Willow Ward,restraint_per_1000_obd,2026-10,White,3,410\n"
)


def wait_idle(page: Page) -> None:
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=60_000)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=60_000)


def test_upload_then_team_chart_then_board(page: Page, streamlit_url: str, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(streamlit_url)
    wait_idle(page)
    expect(page.get_by_role("heading", name="Board summary")).to_be_visible(timeout=60_000)
    nav = page.locator(".st-key-qi_menu")

    nav.get_by_role("link", name="Upload").click()
    wait_idle(page)
    file = tmp_path / "willow-october-correction.csv"
    file.write_text(UPLOAD)
    page.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(file)
    expect(page.get_by_text("2 rows ready to store")).to_be_visible(timeout=60_000)
    # a correction: the page lists the two stored values it replaces and asks first
    expect(page.get_by_text("replaces 2 stored value(s), old → new")).to_be_visible()
    store = page.get_by_role("button", name="Store 1 file(s)")
    expect(store).to_be_disabled()
    page.get_by_text("Replace the 2 stored value(s) listed above").click()
    wait_idle(page)
    expect(store).to_be_enabled()
    store.click()
    expect(page.get_by_text("stored as upload")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("it replaced 2 stored value(s)")).to_be_visible()
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "upload.png", full_page=True)

    nav.get_by_role("link", name="Team charts").click()
    chart = page.locator(".js-plotly-plot").first
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    labels = chart.locator(".annotation-text").all_text_contents()
    assert any(t.startswith("Centre ") for t in labels), labels
    page.screenshot(path=ARTIFACTS / "team-chart.png", full_page=True)

    nav.get_by_role("link", name="Board", exact=True).click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Board summary")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "board.png", full_page=True)


def test_equality_page_draws_the_gap_and_funnel(page: Page, streamlit_url: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(streamlit_url)
    wait_idle(page)
    page.locator(".st-key-qi_menu").get_by_role("link", name="Equality").click()
    charts = page.locator(".js-plotly-plot")
    expect(charts.nth(2).locator(".main-svg").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "equality.png", full_page=True)


#: The board's rows are taller than a grid's default (its icons are read at a glance); the
#: header keeps the grid's own height.
BOARD_ROW_PX, HEADER_PX = 52, 36


def _open_row(page: Page, row: int) -> None:
    """Select the board table's ``row`` (0 = first) by its row selector."""
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible(timeout=60_000)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + HEADER_PX + BOARD_ROW_PX * (row + 0.5))


def _query(page: Page) -> dict[str, list[str]]:
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(page.url).query, keep_blank_values=True)


def test_a_board_row_opens_its_own_chart_and_back_returns(page: Page, streamlit_url: str):
    """At team and at trust level, a selected row opens exactly its unit × measure ×
    group, with the board's rules; browser Back returns to the board with its filters."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    cases = [
        ("team", "Black", "Willow Ward", "restraint_per_1000_obd"),
        ("trust", "White", "Southmoor Care NHS Foundation Trust", "felt_respected"),
    ]
    for level, group, unit, measure in cases:
        board = f"{streamlit_url}/?level={level}&group={group}&measures={measure}"
        page.goto(board)
        wait_idle(page)
        expect(page.get_by_role("heading", name="Board summary")).to_be_visible(timeout=60_000)
        # the rows are sorted by unit: find where the unit wanted sits
        units = sorted(
            {
                u
                for u in (
                    ["Cedar Ward", "Hawthorn Ward", "Rowan Ward", "Willow Ward"]
                    if level == "team"
                    else [
                        "Eastbrook Mental Health NHS Trust",
                        "Northvale Partnership NHS Trust",
                        "Riverside Mental Health NHS Foundation Trust",
                        "Southmoor Care NHS Foundation Trust",
                        "Westhaven Healthcare NHS Trust",
                    ]
                )
            }
        )
        _open_row(page, units.index(unit))
        expect(page.get_by_role("heading", name="Charts")).to_be_visible(timeout=60_000)
        wait_idle(page)
        query = _query(page)
        assert query["level"] == [level] and query["unit"] == [unit]
        assert query["measure"] == [measure] and query["group"] == [group]
        assert query["rules"] == ["mdc"]
        chart = page.locator(".js-plotly-plot").first
        expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
        title = chart.locator(".gtitle").first.text_content()
        assert title.endswith(unit), title
        page.screenshot(path=ARTIFACTS / f"drill-{level}.png", full_page=True)
        page.go_back()
        wait_idle(page)
        expect(page.get_by_role("heading", name="Board summary")).to_be_visible(timeout=60_000)
        query = _query(page)
        assert query["level"] == [level] and query["group"] == [group]
        assert query["measures"] == [measure]
        page.screenshot(path=ARTIFACTS / f"back-{level}.png", full_page=True)
