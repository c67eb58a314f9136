"""How the dashboard looks where Streamlit's theme options (``.streamlit/config.toml``)
cannot say it, in one style sheet: text contrast of at least 4.5:1 (WCAG 2.2 AA),
a keyboard focus that cannot be mistaken for the current page's highlight, and the
menu's section headings and current page.

:func:`apply` is the one place the dashboard injects CSS. The style sheet is a
constant of this module: nothing a person typed ever goes into it, and no page
writes HTML of its own.

Streamlit draws captions and the labels of disabled widgets in its text colour at
60% and 40% opacity (3.9:1 and 2.3:1 on white): here they take the text colour
itself, slightly lightened, which stays above 4.5:1 in the light and the dark theme.
"""

from __future__ import annotations

import streamlit as st

#: The key of the menu's container (``st-key-<key>`` is its CSS class).
MENU_KEY = "qi_menu"
#: The key of the container around the current page's link in the menu.
CURRENT_KEY = "qi_menu_current"

#: The key of a container of links to charts whose long labels wrap (the Learning page).
LINKS_KEY = "qi_chart_links"

#: Focus: a yellow ring inside a near-black one, visible on light and dark
#: backgrounds alike (the pattern of GOV.UK's focus style).
FOCUS_YELLOW = "#ffdd00"
FOCUS_BLACK = "#0b0c0c"

CSS = f"""
/* Secondary text in the text colour at 85% (Streamlit's 60% is 3.9:1 on white). */
[data-testid="stCaptionContainer"],
[data-testid="stWidgetLabel"][disabled] {{
  color: inherit !important;
  opacity: 0.85;
}}
[data-testid="stWidgetLabel"][disabled] * {{ color: inherit !important; }}

/* Keyboard focus: two rings, never only a change of background. */
a:focus-visible,
button:focus-visible,
summary:focus-visible,
[role="button"]:focus-visible,
[role="tab"]:focus-visible,
[role="radio"]:focus-visible,
[role="checkbox"]:focus-visible,
[tabindex]:not([tabindex="-1"]):focus-visible {{
  outline: 3px solid {FOCUS_BLACK} !important;
  outline-offset: 2px !important;
  box-shadow: 0 0 0 2px {FOCUS_YELLOW} !important;
}}
/* A menu link with the focus turns yellow with dark text, unlike the current page. */
.st-key-{MENU_KEY} a:focus-visible {{
  background-color: {FOCUS_YELLOW} !important;
}}
.st-key-{MENU_KEY} a:focus-visible * {{ color: {FOCUS_BLACK} !important; }}

/* On a phone the menu folds away behind Streamlit's "»" button: it says "Menu" too. */
[data-testid="stExpandSidebarButton"] {{ width: auto !important; }}
[data-testid="stExpandSidebarButton"]::after {{
  content: "Menu";
  margin-left: 0.25rem;
  font-size: 1rem;
  font-weight: 600;
}}

/* The menu: close-set links under small section headings, a rule below it, the
   current page with a bar at its left. */
.st-key-{MENU_KEY} {{
  flex: 0 0 auto;
  gap: 0.125rem;
  padding-bottom: 1rem;
  border-bottom: 1px solid rgba(128, 128, 128, 0.4);
}}
.st-key-{MENU_KEY} > * {{ flex-shrink: 0; }}
/* at least 24 px high, as WCAG 2.2's target size asks; 32 px is easier to hit */
.st-key-{MENU_KEY} a {{ min-height: 2rem; }}
/* Streamlit pulls a heading's next element up under it (a negative margin): not here,
   where the next element is a link that would sit under the heading. */
.st-key-{MENU_KEY} [data-testid="stHeading"] [data-testid="stMarkdownContainer"] {{
  margin-bottom: 0 !important;
}}
.st-key-{MENU_KEY} h2 {{
  font-size: 0.875rem;
  font-weight: 700;
  padding: 0.75rem 0 0.125rem 0;
  margin: 0;
}}
.st-key-{CURRENT_KEY} a {{
  border-left: 4px solid currentColor;
  border-radius: 0 0.5rem 0.5rem 0;
  background-color: rgba(0, 94, 184, 0.12);
  font-weight: 700;
}}
.st-key-{CURRENT_KEY} a * {{ font-weight: 700; }}

/* Links to charts with long labels wrap (on a phone too), never cut off. */
.st-key-{LINKS_KEY} a, .st-key-{LINKS_KEY} a * {{
  white-space: normal !important;
  overflow: visible !important;
  text-overflow: clip !important;
  height: auto !important;
}}
"""


def apply() -> None:
    """Add the dashboard's style sheet (:data:`CSS`) to the page. Call it once per run,
    from the router, before any page draws."""
    st.html(f"<style>{CSS}</style>")
