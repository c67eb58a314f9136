"""qi.equality against the R reference cases in ../shared/reference/equality (one test each).

PHEindicatormethods 2.1.0 (Wilson, exact/Byar, PHE funnels), epitools 0.5-10.1 and
epiR 2.0.57 (rate and risk ratios, differences, mid-p), FunnelPlotR 0.6.0
(Spiegelhalter funnels with overdispersion). The mapping of a case onto
``qi.equality`` is the one ``shared/reference/README.md`` specifies; see
``tests/reference_equality.py``. Cases whose folder starts with ``public_`` hold
other projects' data and are read only from ``../shared`` (skipped when absent).
"""

from __future__ import annotations

import numpy as np
import pytest

import qi
from qi.equality.funnel import phe_proportion_limit, phe_ratio_curve
from tests.reference_equality import EQ_DIR, case_ids, check_case, load_case, read_csv

pytestmark = [
    pytest.mark.reference,
    pytest.mark.skipif(not EQ_DIR.is_dir(), reason=f"no reference cases at {EQ_DIR}"),
]


@pytest.mark.parametrize("case_id", case_ids())
def test_equality_case(case_id: str) -> None:
    check_case(case_id, qi.equality)


@pytest.mark.parametrize("case_id", case_ids("phe_funnel"))
def test_phe_plotting_table(case_id: str) -> None:
    """The limits PHEindicatormethods tabulates for drawing (``expected_limits.csv``).

    Proportions: the table's limits at its own denominators, clipped as PHE clips
    (to [0, 100]), to 1e-9. Ratios: PHE finds the expected counts of the funnel
    by bisection on v = E/(E + O + 1) to a step of 1e-7, so its E are off by up
    to about 1e-7·(O + 1)/(1 − v)²; the closed form here agrees within that.
    """
    case = load_case(case_id)
    table = read_csv(case.folder / "expected_limits.csv")
    data = case.input()
    mult = float(case.params.get("multiplier", 100))
    if case.params["statistic"] == "proportion":
        avg = data["numerator"].sum() / data["denominator"].sum()
        n = table["Population"].to_numpy(float)
        for col, p, side, clip in (
            ("lower_2s_limit", 0.975, "low", max), ("upper_2s_limit", 0.975, "high", min),
            ("lower_3s_limit", 0.999, "low", max), ("upper_3s_limit", 0.999, "high", min),
        ):  # fmt: skip
            got = mult * phe_proportion_limit(p, n, avg, side)
            got = np.array([clip(0 if clip is max else 100, v) for v in got])
            np.testing.assert_allclose(got, table[col], rtol=1e-9, atol=1e-12, err_msg=col)
        np.testing.assert_allclose(table["baseline"], avg * mult, rtol=1e-12)
    elif case.params["statistic"] == "ratio":
        o = table["Observed_events"].to_numpy(float)
        scale = 100.0 if case.params.get("ratio_type") == "isr" else 1.0
        for level, conf in (("2s", 0.95), ("3s", 0.998)):
            e_low, e_high = phe_ratio_curve(o, conf)
            for got, name in ((e_low, "lower"), (e_high, "upper")):
                want = table[f"{name}_{level}_exp_events"].to_numpy(float)
                v = want / (want + o + 1)
                step = 2e-7 * (o + 1) / (1 - v) ** 2  # the bisection's resolution on E
                assert np.all(np.abs(got - want) <= step), f"{name}_{level}_exp_events"
                limit = table[f"{name}_{level}_limit"].to_numpy(float)
                assert np.all(np.abs(o / got * scale - limit) <= limit * step / want * 1.01)
    else:
        pytest.skip(f"no plotting-table check for statistic {case.params['statistic']!r}")
