"""The chart in a sentence in a real browser: under Willow Ward's chart of restraint for
Black patients, the sample's story in words (a screenshot is kept for a person to look at:
``artifacts/browser/team-chart-sentence.png``, copied to ``docs/screenshots/``)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_browser import wait_idle


def test_the_team_chart_says_its_story_in_a_sentence(page: Page, streamlit_url: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(
        f"{streamlit_url}/team?unit=Willow+Ward&measure=restraint_per_1000_obd&rules=mdc"
        "&group=All&group=Black"
    )
    wait_idle(page)
    chart = page.locator(".js-plotly-plot").first
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
    said = page.get_by_text("(Black group): no significant change in the latest months")
    expect(said).to_be_visible(timeout=60_000)
    text = said.text_content()
    assert "lower since April 2025, after its PDSA 2 (improvement sustained)" in text
    assert "the gap to the White group narrowed from 2.4× to 0.8×" in text
    # the lower half of the chart and the sentences under it, in one view
    said.scroll_into_view_if_needed()
    page.mouse.wheel(0, 250)
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "team-chart-sentence.png", full_page=False)
