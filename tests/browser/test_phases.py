"""Phases tied to changes in a real browser: the Team page offers a phase after the
de-escalation training, records it and draws it, then withdraws it (so the shared
store is as the other browser tests expect). Screenshots: ``artifacts/browser/``, and
``docs/screenshots/team-phases.png`` when ``QI_DOCS_SCREENSHOTS=1`` asks for the README's
pictures to be refreshed (a test run otherwise leaves the tracked files as they are)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_browser import wait_idle

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_the_team_page_offers_records_and_withdraws_a_phase(page: Page, streamlit_url: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(
        f"{streamlit_url}/team?unit=Willow+Ward&measure=restraint_per_1000_obd"
        "&group=All&group=Black"
    )
    wait_idle(page)
    offer = page.get_by_text("a new phase from April 2025 is offered")
    expect(offer).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Record this phase (Black, from Apr 2025)").click()
    wait_idle(page)
    expect(page.get_by_text("Phase from April 2025 recorded for Black")).to_be_visible(
        timeout=60_000
    )
    expect(page.get_by_text("Recorded phases (new centre line")).to_be_visible()
    chart = page.locator(".js-plotly-plot").first
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
    # Black has a centre line before the phase ("was") and after it
    labels = chart.locator(".annotation-text").all_text_contents()
    assert any("was" in t for t in labels), labels
    page.screenshot(path=ARTIFACTS / "team-phases.png", full_page=True)
    chart.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "team-phases-chart.png")
    if os.environ.get("QI_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in ("team-phases.png", "team-phases-chart.png"):
            shutil.copy(ARTIFACTS / name, DOCS / name)

    page.get_by_role("button", name="Withdraw…").click()
    wait_idle(page)
    page.get_by_role("button", name="Yes, withdraw the phase").click()
    wait_idle(page)
    expect(page.get_by_text("Phase withdrawn")).to_be_visible(timeout=60_000)
    expect(offer).to_be_visible(timeout=60_000)
