"""Workshop: learn to read the rules on the sample collaborative, and see a signal
appear when the room changes a point."""

import pandas as pd
import streamlit as st

import qi
from dashboard import state
from qi import board
from qi.figures import explain_signals, spc_figure

url, version = state.current()
measures = state.measures(url, version).set_index("id")
obs = state.observations(url, version)
state.require_data(obs)

st.title("Workshop: reading run and control charts")
st.write(
    "Pick a team, a measure and a group from the sample collaborative, choose a set of "
    "rules, and read the chart. Then change one month's count and watch which rules fire."
)
teams = sorted(obs["team"].unique())
w1, w2, w3, w4 = st.columns(4)
team = w1.selectbox("Team", teams, index=teams.index(state.query_default("team", teams)))
team_measures = sorted(obs.loc[obs["team"] == team, "measure"].unique())
measure = w2.selectbox(
    "Measure",
    team_measures,
    index=team_measures.index(state.query_default("measure", team_measures)),
    format_func=lambda m: measures.loc[m, "name"],
)
series = board.series_frame(obs[obs["team"] == team], measures.reset_index())
series = series[series["measure"] == measure]
groups = sorted(series["group"].unique(), key=lambda g: (g != "All", g))
group = w3.selectbox("Group", groups, index=groups.index(state.query_default("group", groups)))
rule_keys = list(qi.RULE_SETS)
rules = w4.selectbox(
    "Rules",
    rule_keys,
    index=rule_keys.index(state.query_default("rules", rule_keys, "anhoej")),
    format_func=lambda k: qi.RULE_SETS[k].label,
)
st.query_params.update({"team": team, "measure": measure, "group": group, "rules": rules})

with st.expander(f"The rules: {qi.RULE_SETS[rules].label}", expanded=True):
    st.text(qi.RULE_SETS[rules].description)

data = series[(series["group"] == group) & (series["denominator"].fillna(1) > 0)].reset_index(
    drop=True
)
info = measures.loc[measure]
st.subheader("What if?")
months = data["period"].dt.strftime("%Y-%m").tolist()
k1, k2 = st.columns(2)
month = k1.selectbox("Change the count of month", months, index=len(months) - 1)
original = float(data.loc[months.index(month), "numerator"])
new_value = k2.number_input("to", min_value=0.0, value=original, step=1.0)
changed = data.copy()
changed.loc[months.index(month), "numerator"] = new_value
if info["chart"] in ("p", "pp"):
    changed["numerator"] = changed[["numerator", "denominator"]].min(axis=1)


def chart(frame: pd.DataFrame):
    needs_n = frame["denominator"].notna().any()
    return qi.spc(
        frame, x="period", y="numerator", n="denominator" if needs_n else None,
        chart=info["chart"], multiply=float(info["multiplier"]), rules=rules,
        improvement=info["improvement"],
    )  # fmt: skip


before, after = chart(data), chart(changed)
fig = spc_figure(
    after.points, title=f"{info['name']} — {team}, {group}", y_title=info["unit"],
    improvement=info["improvement"], rules=after.rules,
)  # fmt: skip
st.plotly_chart(fig, theme=None)
signals_before = explain_signals(before.points, info["improvement"], rules=before.rules)
signals_after = explain_signals(after.points, info["improvement"], rules=after.rules)
diff = pd.DataFrame(
    {
        "month": months,
        "signal before": signals_before["signal_text"].to_numpy(),
        "signal after": signals_after["signal_text"].to_numpy(),
    }
)
changed_rows = diff[diff["signal before"] != diff["signal after"]]
if new_value == original:
    st.info("Change the count above to see which signals appear or disappear.")
elif changed_rows.empty:
    st.info("No signal changed: this point stays within what the rules call common cause.")
else:
    st.warning(f"{len(changed_rows)} month(s) changed their signal:")
    st.dataframe(changed_rows, hide_index=True)
st.subheader("Every signal on this chart")
st.dataframe(diff[diff["signal after"] != ""][["month", "signal after"]], hide_index=True)
