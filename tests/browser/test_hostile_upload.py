"""In a real browser: while one person's hostile upload is read and refused (with a
progress bar), the server answers another person's session, and stays up."""

from __future__ import annotations

import urllib.request

from playwright.sync_api import Browser, expect

from tests import hostile_files as hf
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_browser import wait_idle


def test_the_server_answers_others_while_a_hostile_upload_is_refused(
    browser: Browser, streamlit_url: str, tmp_path
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    file = tmp_path / "tiny-rows.csv"
    file.write_bytes(hf.tiny_rows_csv(49))  # 49 MB: over the row limit
    uploader = browser.new_context().new_page()
    uploader.goto(streamlit_url)
    wait_idle(uploader)
    uploader.locator(".st-key-qi_menu").get_by_role("link", name="Upload").click()  # our menu
    wait_idle(uploader)
    uploader.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(file)
    expect(uploader.get_by_test_id("stProgress")).to_be_visible(timeout=120_000)

    reader = browser.new_context().new_page()  # someone else, meanwhile
    reader.goto(streamlit_url)
    expect(reader.get_by_role("heading", name="Board summary")).to_be_visible(timeout=120_000)
    expect(reader.get_by_test_id("stDataFrame").first).to_be_visible(timeout=120_000)

    expect(uploader.get_by_text("tiny-rows.csv: 1 problem(s).")).to_be_visible(timeout=180_000)
    wait_idle(uploader)
    uploader.screenshot(path=ARTIFACTS / "hostile-upload.png", full_page=True)
    with urllib.request.urlopen(streamlit_url + "/_stcore/health", timeout=10) as health:
        assert health.read() == b"ok"
