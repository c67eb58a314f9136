"""Every page in a real browser at a desktop and a phone width: reachable by its own
address, screenshotted for a person to look at, and audited with axe-core against the
WCAG 2.0–2.2 A and AA rules. Any serious or critical finding fails the test.

The app runs in single-user local mode on the sample store, so every page is open.
Screenshots of the whole page: ``artifacts/browser/<page>-<width>.png`` (or under
``QI_SHOTS_DIR``); the audit of each page is also written beside them as
``<page>-<width>.axe.json`` (the findings of every impact).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS

#: name of the page in the menu, its address, its first heading
PAGES = [
    ("board", "board", "Board summary"),
    ("team", "team", "Charts"),
    ("equality", "equality", "Equality"),
    ("accountability", "accountability", "Accountability"),
    ("pack", "pack", "Board pack"),
    ("upload", "upload", "Upload monthly data"),
    ("changes", "changes", "Change ideas and PDSA cycles"),
    ("completeness", "completeness", "Data completeness"),
    ("learning", "learning", "What the collaborative learned"),
    ("workshop", "workshop", "Workshop"),
    ("people", "people", "People and roles"),
    ("audit", "audit", "Audit log"),
]
WIDTHS = [1440, 390]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
FAILING = {"serious", "critical"}
AXE = Axe()
#: where the screenshots and audits go (``QI_SHOTS_DIR`` to keep them elsewhere)
SHOTS = Path(os.environ.get("QI_SHOTS_DIR") or ARTIFACTS)


def wait_settled(page: Page) -> None:
    """The script has finished, and what it drew has been laid out: charts drawn,
    no skeletons or spinners left."""
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=60_000)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=60_000)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=60_000)
    expect(page.get_by_test_id("stSpinner")).to_have_count(0, timeout=60_000)
    charts = page.locator(".js-plotly-plot")
    for i in range(charts.count()):
        expect(charts.nth(i).locator(".main-svg").first).to_be_attached(timeout=60_000)
    page.wait_for_timeout(300)  # let the last layout pass (grid canvas, chart resize) finish


def screenshot_whole(page: Page, path, width: int) -> None:
    """The whole page, not only the window: Streamlit scrolls inside its own container, so
    the window is made as tall as the content for the shot, then put back."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
        "[data-testid=stSidebarContent], [data-testid=stAppViewContainer]')]"
        ".map(e => e.scrollHeight), 900)"
    )
    page.set_viewport_size({"width": width, "height": min(int(height), 16_000)})
    wait_settled(page)
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size({"width": width, "height": 900})


def audit(page: Page) -> list[dict]:
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    return AXE.run(page, options=options).response["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
        lines.append(
            f"{v['id']} ({v['impact']}, {len(v['nodes'])} node(s)): {v['help']}\n"
            f"    e.g. {'; '.join(targets)}"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("name", "path", "heading"), PAGES, ids=[p[0] for p in PAGES])
def test_page_by_its_address_is_accessible(
    page: Page, streamlit_url: str, name: str, path: str, heading: str, width: int
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{streamlit_url}/{path}")
    wait_settled(page)
    violations = audit(page)
    screenshot_whole(page, SHOTS / f"{name}-{width}.png", width)

    (SHOTS / f"{name}-{width}.axe.json").write_text(
        json.dumps(
            [
                {
                    "id": v["id"],
                    "impact": v["impact"],
                    "help": v["help"],
                    "nodes": len(v["nodes"]),
                    "first": [
                        {"target": n["target"], "html": n["html"][:200], "why": n["failureSummary"]}
                        for n in v["nodes"][:3]
                    ],
                }
                for v in violations
            ],
            indent=1,
        )
    )
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_role("heading", level=1).first).to_contain_text(heading)
    # every chart says in words what it shows, right under it
    charts = page.locator(".js-plotly-plot").count()
    under = page.locator(
        "[data-testid=stElementContainer]:has(.js-plotly-plot) + [data-testid=stElementContainer]"
        " [data-testid=stCaptionContainer]"
    )
    expect(under).to_have_count(charts)
    if charts:  # across the content's width (not squeezed at a phone's)
        blocks = page.get_by_test_id("stMainBlockContainer").get_by_test_id("stVerticalBlock")
        content = blocks.first.bounding_box()  # the main column inside its padding
        chart = page.locator(".js-plotly-plot").first.bounding_box()
        assert chart["width"] >= 0.98 * content["width"], (chart, content)
    failing = [v for v in violations if v["impact"] in FAILING]
    assert not failing, f"{name} at {width} px:\n{describe(failing)}"


def test_the_board_is_also_the_front_page(page: Page, streamlit_url: str):
    page.goto(streamlit_url)
    wait_settled(page)
    expect(page.get_by_role("heading", level=1).first).to_contain_text("Board summary")


def test_the_menu_on_a_phone(page: Page, streamlit_url: str):
    """At 390 px the menu folds behind a button that says "Menu"; opened, every page's
    link is there to read and tap (at least 24 px high), passes the audit, and leads to
    its page's own address."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{streamlit_url}/team")
    wait_settled(page)
    opener = page.get_by_test_id("stExpandSidebarButton")
    expect(opener).to_be_visible()
    expect(opener).to_have_accessible_name("Expand sidebar")
    opener.click()
    menu = page.locator(".st-key-qi_menu")
    expect(menu).to_be_in_viewport()
    links = menu.get_by_role("link")
    expect(links).to_have_count(len(PAGES))
    # the menu slides in: measure it once it has arrived
    page.wait_for_function(
        "() => document.querySelector('.st-key-qi_menu a').getBoundingClientRect().left >= 0",
        timeout=10_000,
    )
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box["height"] >= 24 and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    page.screenshot(path=SHOTS / "menu-390.png")
    failing = [v for v in audit(page) if v["impact"] in FAILING]
    assert not failing, f"the open menu at 390 px:\n{describe(failing)}"
    menu.get_by_role("link", name="Equality").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(streamlit_url)}/equality(\?|$)"))
    wait_settled(page)
    expect(page.get_by_role("heading", level=1).first).to_contain_text("Equality")


def test_keyboard_focus_is_visible_and_unlike_the_current_page(page: Page, streamlit_url: str):
    """Tabbing onto a menu link draws a ring (a 3 px outline) and a yellow background; the
    current page's link, unfocused, has neither: focus and "you are here" look different."""
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{streamlit_url}/team")
    wait_settled(page)
    menu = page.locator(".st-key-qi_menu")
    current = page.locator(".st-key-qi_menu_current").get_by_role("link")
    expect(current).to_have_text("Team charts")
    other = menu.get_by_role("link", name="Equality")
    other.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard (focus-visible), not by script alone
    expect(other).to_be_focused()
    style = "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.backgroundColor]; }"  # noqa: E501
    outline, width, background = other.evaluate(style)
    assert (outline, width) == ("solid", "3px")
    assert background == "rgb(255, 221, 0)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    menu.screenshot(path=SHOTS / "menu-focus-1440.png")
    outline, width, background = current.evaluate(style)
    assert outline == "none" or width == "0px"
    assert background != "rgb(255, 221, 0)"


#: A phone's browser, as it names itself (the "Mobi" that phones' browsers send).
PHONE_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36"
)


def test_a_chart_on_a_phone_keeps_most_of_the_screen_for_its_data(browser, streamlit_url: str):
    """On a phone the team chart is laid out for the phone's width: its labels take the
    margins they need there, and the plot itself keeps more than half of the screen."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 900},
                                  user_agent=PHONE_AGENT)  # fmt: skip
    try:
        page = context.new_page()
        page.goto(f"{streamlit_url}/team?unit=Willow+Ward&measure=restraint_per_1000_obd")
        wait_settled(page)
        plot = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first
        expect(plot).to_be_attached(timeout=60_000)
        box = plot.bounding_box()
        assert box["width"] >= 195, box  # more than half of 390 pixels
        plot.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / "team-phone.png", full_page=False)
    finally:
        context.close()
