"""Workshop: learn to read the rules on the sample collaborative, and see a signal
appear when the room changes a point."""

import streamlit as st

import qi
from dashboard import components as ui
from dashboard import reads
from qi.words import Column

WHAT_IF_COLUMNS = [
    Column("month", "Month", "month"),
    Column("signal before", "Signal before the change"),
    Column("signal after", "Signal after the change"),
]

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
    st.text(qi.RULE_SETS[rules].plain)
    st.caption("As the sources state them: " + qi.RULE_SETS[rules].description)

st.subheader("What if?")
recorded = reads.what_if(team=team, measure=measure, group=group, rules=rules)
months = list(recorded.months)
k1, k2, k3 = st.columns([2, 2, 3])
month = k1.selectbox(
    "Change the count of month", months,
    index=months.index(ui.query_default("month", months, months[-1])),
)  # fmt: skip
was = recorded.recorded(month)
asked = was
if st.query_params.get("month") == month:  # a shared link's value, for its own month
    try:
        asked = float(st.query_params.get("value", was))
    except ValueError:
        asked = was
new_value = k2.number_input("to", min_value=0.0, value=asked if asked >= 0 else was, step=1.0)
denominator = recorded.denominator(month)
if denominator is not None:
    k3.metric(
        f"out of ({recorded.measure.denominator_definition or 'denominator'})",
        f"{denominator:,.0f}",
    )
st.query_params.update({"month": month, "value": f"{new_value:g}"})
view = reads.what_if(
    team=team, measure=measure, group=group, rules=rules, month=month, value=new_value
)  # fmt: skip
if view.refusal:
    st.error(view.refusal)
ui.chart(view.figure())
changed_rows = view.changed_signals
if not view.changed:
    st.info("Change the count above to see which signals appear or disappear.")
elif changed_rows.empty:
    st.info(
        f"No signal changed: {month} moved from {was:g} to {new_value:g} and stays within "
        "what the rules call common cause."
    )
else:
    st.warning(
        f"Changing {month} from {was:g} to {new_value:g}: {len(changed_rows)} month(s) "
        "changed their signal:"
    )
    ui.table(changed_rows, WHAT_IF_COLUMNS)
st.subheader("Every signal on this chart")
ui.table(view.every_signal, WHAT_IF_COLUMNS)
