"""What starting up loads: ``qi --help`` and ``import qi`` answer without the heavy
libraries, which come with the commands and names that use them (each check runs in a
fresh interpreter, where ``sys.modules`` shows what was really imported)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("scipy", "plotly", "sqlalchemy", "pandas", "argon2", "alembic", "streamlit")


def loaded_after(code: str) -> set[str]:
    """The heavy top-level packages imported by running ``code`` in a fresh Python."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    return set(out) & set(HEAVY)


def test_qi_help_imports_no_heavy_library():
    code = (
        "import contextlib, io\nfrom qi.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert 'import' in out.getvalue() and 'uploads' in out.getvalue()"
    )
    assert loaded_after(code) == set()


def test_the_qi_command_prints_its_help():
    script = Path(sys.executable).with_name("qi")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "qi.cli"]
    out = subprocess.run([*command, "--help"], check=True, capture_output=True, text=True)
    assert "usage: qi" in out.stdout and "sample" in out.stdout


def test_import_qi_loads_no_scipy_store_or_plotly():
    assert loaded_after("import qi") == set()
    # the chart engine needs numpy and pandas, still not scipy
    assert loaded_after("import qi\nqi.CHART_TYPES\nqi.RULE_SETS") <= {"pandas"}
    # nor does comparing groups with 95% Wald intervals (the Board's sentences); the
    # exact statistics import it when first used
    assert "scipy" not in loaded_after("import qi\nqi.equality.compare")
    assert "scipy" in loaded_after("import qi\nqi.equality._exact.z_two_sided(0.9)")


@pytest.mark.parametrize("first", ["import qi.mdc", "from qi.spc import SPCResult", "pass"])
def test_qi_spc_is_the_function_whatever_was_imported_first(first):
    code = (
        f"{first}\nimport qi\nimport pandas as pd\n"
        "r = qi.spc(pd.DataFrame({'y': [1.0, 2, 3, 2, 1]}), y='y', chart='i')\n"
        "assert callable(qi.spc) and isinstance(r, qi.SPCResult), qi.spc\n"
        "from qi import spc, mdc, equality, CHART_TYPES, RULE_SETS, ChartType, RuleSet, load\n"
        "assert spc is qi.spc and 'p' in CHART_TYPES and 'mdc' in RULE_SETS\n"
        "assert {'spc', 'equality', 'load'} <= set(dir(qi))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


def test_an_unknown_name_of_qi_is_an_attribute_error():
    import qi

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        qi.nothing_here  # noqa: B018


def test_the_schema_head_read_from_the_migration_files_is_alembics():
    from qi.store import schema

    assert schema._head_in_files() == schema.head_revision()
