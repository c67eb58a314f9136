"""qi.spc against the R reference cases in ../shared/reference/spc (one test per case).

qicharts2 0.8.1 cases run with ``rules="anhoej"``; NHSRplotthedots 0.2.2 cases with
``chart="i", rules="mdc"``. The mapping of a case onto ``qi.spc`` is the one
``shared/reference/README.md`` specifies; see ``tests/reference_spc.py``.
"""

from __future__ import annotations

import pytest

import qi
from tests.reference_spc import SPC_DIR, case_ids, check_case

pytestmark = [
    pytest.mark.reference,
    pytest.mark.skipif(not SPC_DIR.is_dir(), reason=f"no reference cases at {SPC_DIR}"),
]


@pytest.mark.parametrize("case_id", case_ids("qicharts2"))
def test_qicharts2_case(case_id: str) -> None:
    check_case(case_id, qi.spc)


@pytest.mark.parametrize("case_id", case_ids("ptd"))
def test_nhsrplotthedots_case(case_id: str) -> None:
    check_case(case_id, qi.spc)
