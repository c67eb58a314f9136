"""Workshop: learn to read the rules on the sample collaborative, and see a signal
appear when the room changes a point."""

import streamlit as st

import qi
from dashboard import components as ui
from dashboard import reads

snap = reads.snapshot()
ui.require_data(snap.observations)

st.title("Workshop: reading run and control charts")
st.write(
    "Pick a team, a measure and a group from the sample collaborative, choose a set of "
    "rules, and read the chart. Then change one month's count and watch which rules fire."
)
teams = snap.units("team")
w1, w2, w3, w4 = st.columns(4)
team = w1.selectbox("Team", teams, index=teams.index(ui.query_default("team", teams)))
team_measures = sorted(snap.measure_ids("team", team))
names = snap.measures.set_index("id")["name"]
measure = w2.selectbox(
    "Measure",
    team_measures,
    index=team_measures.index(ui.query_default("measure", team_measures)),
    format_func=lambda m: names[m],
)
groups = ["All", *snap.groups("team", team, measure)]
group = w3.selectbox("Group", groups, index=groups.index(ui.query_default("group", groups)))
rule_keys = list(qi.RULE_SETS)
rules = w4.selectbox(
    "Rules",
    rule_keys,
    index=rule_keys.index(ui.query_default("rules", rule_keys, "anhoej")),
    format_func=lambda k: qi.RULE_SETS[k].label,
)
st.query_params.update({"team": team, "measure": measure, "group": group, "rules": rules})

with st.expander(f"The rules: {qi.RULE_SETS[rules].label}", expanded=True):
    st.text(qi.RULE_SETS[rules].description)

st.subheader("What if?")
recorded = reads.what_if(team=team, measure=measure, group=group, rules=rules)
months = list(recorded.months)
k1, k2 = st.columns(2)
month = k1.selectbox("Change the count of month", months, index=len(months) - 1)
new_value = k2.number_input("to", min_value=0.0, value=recorded.recorded(month), step=1.0)
view = reads.what_if(
    team=team, measure=measure, group=group, rules=rules, month=month, value=new_value
)  # fmt: skip
st.plotly_chart(view.figure(), theme=None)
changed_rows = view.changed_signals
if not view.changed:
    st.info("Change the count above to see which signals appear or disappear.")
elif changed_rows.empty:
    st.info("No signal changed: this point stays within what the rules call common cause.")
else:
    st.warning(f"{len(changed_rows)} month(s) changed their signal:")
    st.dataframe(changed_rows, hide_index=True)
st.subheader("Every signal on this chart")
st.dataframe(view.every_signal, hide_index=True)
