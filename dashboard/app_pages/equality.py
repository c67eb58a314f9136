"""Equality: each group against the reference group over time, recording completeness
beside it, and a funnel plot across teams; small numbers suppressed (unless the
person's role allows them and they ask)."""

import streamlit as st

import qi
from dashboard import state
from qi import board, equality
from qi.figures import funnel_figure, spc_figure

url, version = state.current()
measures = state.measures(url, version).set_index("id")
obs = state.observations(url, version)
state.require_data(obs)
st.title("Equality")
st.caption(
    "Each group's rate or proportion against the reference group's, month by month, as a "
    "ratio on the log scale: 0 means no gap, above 0 the group's rate is higher. The rules "
    "tell whether a gap is narrowing as a signal, not a guess. Counts from 1 to 7 are "
    "suppressed in the tables unless your role allows them and you ask."
)
levels = list(board.LEVELS)
e1, e2, e3, e4 = st.columns(4)
level = e1.selectbox("Level", levels, index=levels.index(state.query_default("level", levels)))
units = sorted(obs[level].unique())
unit = e2.selectbox("Unit", units, index=units.index(state.query_default("unit", units)))
here = obs[obs[level] == unit]
measure_ids = [m for m in measures.index if m in set(here["measure"])]
measure = e3.selectbox(
    "Measure", measure_ids, index=measure_ids.index(state.query_default("measure", measure_ids)),
    format_func=lambda m: measures.loc[m, "name"],
)  # fmt: skip
info = measures.loc[measure]
series = board.series_frame(here, measures.reset_index(), level=level, add_all=False)
series = series[series["measure"] == measure]
groups = sorted(g for g in series["group"].unique() if g != "All")
reference = e4.selectbox(
    "Reference group", groups, index=groups.index(state.query_default("reference", groups, "White"))
    if "White" in groups else 0,
)  # fmt: skip
rule_keys = list(qi.RULE_SETS)
rules = st.sidebar.selectbox(
    "Rules", rule_keys, index=rule_keys.index(state.query_default("rules", rule_keys, "anhoej")),
    format_func=lambda k: qi.RULE_SETS[k].label,
)  # fmt: skip
st.query_params.update(
    {"level": level, "unit": unit, "measure": measure, "reference": reference, "rules": rules}
)

risk = info["chart"] in ("p", "pp")
gaps = equality.gap(
    series, by=["unit", "measure", "period"], group="group", events="numerator",
    exposure="denominator", reference=reference, measure="risk" if risk else "rate",
    multiplier=float(info["multiplier"]),
)  # fmt: skip
chartable = gaps.dropna(subset=["log_ratio"])
st.subheader(f"Gap to {state.literal(reference)}")
if chartable.empty:
    st.info("Too few events to compare groups month by month; see the pooled table below.")
else:
    result = qi.spc(chartable, x="period", y="log_ratio", by="group", chart="i", rules=rules)
    st.plotly_chart(
        spc_figure(result.points, group="group",
                   title=f"{info['name']}: log ratio to {reference} — {unit}",
                   y_title=f"log ratio to {reference}", rules=result.rules),
        theme=None,
    )  # fmt: skip
latest = gaps.sort_values("period").groupby("group").tail(1)
st.dataframe(
    latest[["group", "period", "value", "ref_value", "ratio", "ratio_lower", "ratio_upper",
            "p_value", "difference", "difference_lower", "difference_upper"]],
    hide_index=True,
)  # fmt: skip

st.subheader("Recording completeness")
complete = equality.recording_completeness(
    here[here["measure"] == measure], by=["period"], group="broad_group", count="denominator",
    multiplier=100,
)  # fmt: skip
complete_chart = qi.spc(
    complete, x="period", y="numerator", n="denominator", chart="p", multiply=100, rules=rules
)
st.plotly_chart(
    spc_figure(complete_chart.points, title="Records with ethnic group not stated (%)",
               y_title="% not stated", improvement="decrease", rules=complete_chart.rules),
    theme=None,
)  # fmt: skip

st.subheader("Funnel plot across teams, last 12 months")
team_rows = obs[obs["measure"] == measure]
last_months = sorted(team_rows["period"].unique())[-12:]
recent = team_rows[team_rows["period"].isin(last_months)]
fgroup = st.selectbox("Group in the funnel", ["All", *groups])
if fgroup != "All":
    recent = recent[recent["broad_group"] == fgroup]
recent = recent[recent["denominator"] > 0]
if recent["team"].nunique() >= 3:
    fun = equality.funnel(
        recent, group="team", numerator="numerator", denominator="denominator",
        statistic="proportion" if risk else "rate", style="spiegelhalter" if risk else "phe",
        overdispersion=risk, multiplier=float(info["multiplier"]),
    )  # fmt: skip
    st.plotly_chart(
        funnel_figure(fun.points, fun.limits, title=f"{info['name']} ({fgroup})",
                      y_title=info["unit"],
                      x_title=info["denominator_definition"] or "Denominator"),
        theme=None,
    )  # fmt: skip
else:
    st.info("A funnel plot needs at least three teams with data.")

st.subheader("Counts by group, last 6 months")
unsuppressed = state.small_numbers(here["team"].unique(), key="equality_small")
table = here[
    (here["measure"] == measure) & here["period"].isin(sorted(here["period"].unique())[-6:])
]
table = table.assign(month=table["period"].dt.strftime("%Y-%m"))
if unsuppressed:
    shown = equality.suppress(
        table, index="month", columns="broad_group", values="numerator", threshold=0, rounding=1
    )
    st.dataframe(shown.values)
    st.caption("Small numbers shown as counted: do not share this table outside your role.")
else:
    shown = equality.suppress(table, index="month", columns="broad_group", values="numerator")
    st.dataframe(shown.values.astype(object).where(~shown.mask, "*"))
    st.caption("* suppressed: a count from 1 to 7, or a cell that would let one be worked out.")
