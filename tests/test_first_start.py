"""A new store is safe to start: many commands at once, a private file, output that
cannot drive the terminal, titles escaped once, and no silent return to single-user
mode (issue 20)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qi.cli import main
from qi.store import Store, StoreError, schema
from tests.conftest import HEADER, MEASURES, TEAMS

ROOT = Path(__file__).resolve().parents[1]
#: Each process loads everything first, says it is ready, and waits for the word, so
#: the eight reach the new store within a millisecond or two of each other.
LAUNCH = (
    "import os, sys, time\n"
    "from qi.cli import main\n"
    "folder = sys.argv[1]\n"
    "open(os.path.join(folder, 'ready-%d' % os.getpid()), 'w').close()\n"
    "while not os.path.exists(os.path.join(folder, 'go')):\n"
    "    time.sleep(0.001)\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def _at_once(folder: Path, argv: list[str], n: int = 8) -> list[tuple[int, str, str]]:
    folder.mkdir(exist_ok=True)
    env = dict(os.environ, QI_USER="starter")
    command = [sys.executable, "-c", LAUNCH, str(folder), *argv]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, **pipes) for _ in range(n)]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("ready-*"))) < n:
        assert time.monotonic() < deadline, "the commands did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    (folder / "go").touch()
    return [(p.wait(120), *p.communicate()) for p in procs]


def test_eight_commands_at_once_on_a_new_store_all_start_it(store_url, tmp_path):
    results = _at_once(tmp_path / "barrier", ["--db", store_url, "uploads"])
    for code, out, err in results:
        assert "Traceback" not in err, err
        assert code == 0, (out, err)
    with Store.open(store_url) as store:
        assert store.counts()["upload"] == 0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "store.db"
    with Store.open(f"sqlite:///{path}") as store:
        store.register_teams(TEAMS)  # a write: the journal files exist now
        files = [path, *tmp_path.glob("store.db-*")]
        assert len(files) == 3  # the store, its write-ahead log and its shared memory
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_the_default_store_folder_is_private(tmp_path, monkeypatch):
    from qi.store import default_url

    monkeypatch.delenv("QI_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = default_url()
    folder = Path(url.removeprefix("sqlite:///")).parent
    assert folder.is_relative_to(tmp_path) and _mode(folder) == 0o700
    with Store.open(url):
        pass
    assert _mode(folder / "qi.db") == 0o600


def test_file_names_with_terminal_codes_are_printed_escaped(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        store.register_teams(TEAMS)
        store.load_measures(MEASURES)
    evil = tmp_path / "march\x1b[2J\x1b[31mred\x07.csv"
    evil.write_text(HEADER + "Willow Ward,restraint,2024-03,Black,3,650\n")
    assert main(["--db", url, "import", str(evil)]) == 0
    capsys.readouterr()
    assert main(["--db", url, "uploads"]) == 0
    out = capsys.readouterr().out
    assert "march<U+001B>[2J<U+001B>[31mred<U+0007>.csv" in out
    assert not any(ch in out for ch in "\x1b\x07")
    assert main(["--db", url, "import", str(tmp_path / "nowhere\x1b[2J.csv")]) == 1
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "<U+001B>" in out + err


def test_a_double_quote_in_a_title_is_drawn_as_a_quote(tmp_path):
    from xml.etree import ElementTree

    import pandas as pd

    from qi import images
    from qi.figures import spc_figure

    points = pd.DataFrame({
        "x": pd.date_range("2024-01-01", periods=3, freq="MS"), "y": [1.0, 2.0, 3.0],
        "n": [float("nan")] * 3, "phase": [1] * 3, "cl": [2.0] * 3, "lcl": [0.0] * 3,
        "ucl": [4.0] * 3, "target": [float("nan")] * 3, "sigma_signal": [False] * 3,
    })  # fmt: skip
    title = 'Ward "North" & <East> \'s'
    fig = spc_figure(points, title=title, y_title='"days"', rules="anhoej")
    svg = ElementTree.fromstring(images.image(fig, "svg", width=700, height=400))
    drawn = ["".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert title in drawn, drawn
    assert not [t for t in drawn if "&quot;" in t or "&amp;" in t or "&#" in t], drawn


def test_a_downgrade_that_would_drop_every_account_refuses_unless_asked(store_url):
    with Store.open(store_url) as store:
        store.register_teams(TEAMS)
        store.add_user("fac", password="a long password 1", role="facilitator",
                       scope="collaborative", name="Test Collaborative")  # fmt: skip
        before = store.sign_in("fac", "a long password 1").counts()
        with pytest.raises(StoreError, match="removes all 1 accounts, facilitators included"):
            schema.downgrade(store.engine, "0002")
        assert schema.current_revision(store.engine) == schema.head_revision()
        assert store.sign_in("fac", "a long password 1").counts()["app_user"] == 1
        assert before["team"] == 3
        schema.downgrade(store.engine, "0002", drop_accounts=True)
        assert schema.current_revision(store.engine) == "0002"
        schema.upgrade(store.engine)
        assert not store.has_accounts()  # what was asked for: single-user mode again


def test_a_downgrade_of_a_store_without_accounts_needs_no_word(store_url):
    with Store.open(store_url) as store:
        schema.downgrade(store.engine, "0001")
        assert schema.current_revision(store.engine) == "0001"
