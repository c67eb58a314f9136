"""The server settings the deployment relies on, as Streamlit reads them.

Read in a fresh interpreter from the project's folder, as ``streamlit run`` started
there reads ``.streamlit/config.toml`` (a misspelt option would be left at its
default with only a warning).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _options(*names: str) -> dict:
    code = (
        "import json, sys\n"
        "from streamlit import config\n"
        "config.get_config_options(force_reparse=True)\n"
        "print(json.dumps({n: config.get_option(n) for n in sys.argv[1:]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *names], cwd=ROOT, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_full_garbage_collection_after_every_run():
    # Streamlit's default walks every object of the process after each page run, the
    # largest part of a reader's run on a warm server (issue 22: twenty readers' p95
    # 3.8-4.2 s with it, 1.5-1.8 s without)
    assert _options("runner.postScriptGC") == {"runner.postScriptGC": False}


def test_the_server_runs_headless_and_sends_no_usage_statistics():
    assert _options("server.headless", "browser.gatherUsageStats") == {
        "server.headless": True,
        "browser.gatherUsageStats": False,
    }
