"""The Learning page in a real browser: the table of what followed each change, the
driver diagram, and a link that opens the right chart (its team, measure, group, rules
and phases). The screenshot is kept as ``artifacts/browser/learning.png``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_accessibility import screenshot_whole, wait_settled


def test_the_learning_page_links_each_change_to_its_chart(page: Page, streamlit_url: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{streamlit_url}/learning")
    wait_settled(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("What the collaborative learned")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    # the driver diagram is a list a screen reader reads as a tree
    diagram = page.locator("li", has_text="Primary driver: Data on ethnicity are complete")
    expect(diagram.first).to_be_visible()
    expect(
        page.get_by_text("2 improvement sustained, 2 improvement at risk, 3 no signal")
    ).to_be_visible()
    screenshot_whole(page, ARTIFACTS / "learning.png", 1440)

    link = page.get_by_role("link", name="Willow Ward").filter(has_text="deescalation")
    expect(link).to_have_count(1)
    expect(link).to_contain_text("improvement sustained")
    link.click()
    expect(page.get_by_role("heading", name="Charts")).to_be_visible(timeout=60_000)
    wait_settled(page)
    query = parse_qs(urlparse(page.url).query)
    assert query["unit"] == ["Willow Ward"] and query["group"] == ["Black"], query
    assert query["measure"] == ["restraint_per_1000_obd"] and query["rules"] == ["mdc"], query
    assert query["phase"] == ["2025-02"], query
    title = page.locator(".js-plotly-plot").first.locator(".gtitle").first.text_content()
    assert title.endswith("Willow Ward"), title
