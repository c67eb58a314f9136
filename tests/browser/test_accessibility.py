"""Every page in a real browser at a desktop and a phone width: reachable by its own
address, screenshotted for a person to look at, and audited with axe-core against the
WCAG 2.0–2.2 A and AA rules. Any serious or critical finding fails the test.

The app runs in single-user local mode on the sample store, so every page is open.
Screenshots: ``artifacts/browser/<page>-<width>.png``; the audit of each page is also
written beside them as ``<page>-<width>.axe.json`` (the findings of every impact).
"""

from __future__ import annotations

import json

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
    ("workshop", "workshop", "Workshop"),
    ("people", "people", "People and roles"),
    ("audit", "audit", "Audit log"),
]
WIDTHS = [1440, 390]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
FAILING = {"serious", "critical"}
AXE = Axe()


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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{streamlit_url}/{path}")
    wait_settled(page)
    page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)

    violations = audit(page)
    (ARTIFACTS / f"{name}-{width}.axe.json").write_text(
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
    failing = [v for v in violations if v["impact"] in FAILING]
    assert not failing, f"{name} at {width} px:\n{describe(failing)}"


def test_the_board_is_also_the_front_page(page: Page, streamlit_url: str):
    page.goto(streamlit_url)
    wait_settled(page)
    expect(page.get_by_role("heading", level=1).first).to_contain_text("Board summary")

