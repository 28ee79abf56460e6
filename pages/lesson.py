"""Lesson: a story in steps, each with its text, a live view, a try-it control and a question; from a lesson file."""

import streamlit as st

from explorer import ui
from explorer.readings.lesson_file import LessonError, teacher_dir
from explorer.ui import lesson as parts
from explorer.ui import present

HEIGHTS = {None: 460, 720: 560, 1080: 880}  # the figure's height, plain and in presentation mode

found = parts.lessons()
good = [x for x in found if not isinstance(x, LessonError)]
if not good:
    st.error("No lesson file could be loaded; the sidebar says why.", icon=":material/error:")
with st.sidebar:
    screen = present.presentation_toggle(
        help="For a projector: the step fills a 1280x720 screen (?present=1080 for 1920x1080), no sidebar. "
        "Keys: ←/→ or PageUp/PageDown turn the steps."
    )
    for error in (x for x in found if isinstance(x, LessonError)):
        st.error(f"Lesson file not loaded: {ui.plain(error)}", icon=":material/error:")
    if not good:
        st.stop()
    chosen = ui.choice(
        "Lesson",
        [x.name for x in good],
        "lesson",
        lambda name: next(x.title for x in good if x.name == name),
        help=f"The built-in lesson, and every lesson file (.toml) a teacher put in the {teacher_dir().name}/ folder "
        "of the app's home (RNN_EXPLORER_HOME).",
    )
lesson = next(x for x in good if x.name == chosen)
count = len(lesson.steps)
n = parts.current_step(count)
step = lesson.steps[n - 1]
with st.sidebar:
    parts.step_picker(lesson, n)
st.html(parts.KEYS_JS, unsafe_allow_javascript=True)
if screen:
    st.html(present.CSS)
    if screen == 1080:  # room for a projector's size of type
        st.html('<style>[data-testid="stText"] { font-size: 1.3rem; line-height: 1.45; }</style>')
else:
    st.title(ui.plain(lesson.title))
    if lesson.summary:
        st.caption(ui.plain(lesson.summary, None))

problems = [e for e in parts.lesson_problems(lesson) if e.step == n]  # a model this server lacks: no view
text, view = st.columns([1, 2.2] if step.view == "watch" else [1, 1.6], gap="medium")
with text:
    st.subheader(ui.plain(f"{n}/{count} · {step.title}"), anchor=False)
    st.text(step.text)
    value = None if problems else parts.try_control(step, key=f"try_{lesson.name}_{n}")
    # On a 720-line projector the browser view fills the height: its sentences scroll in a box of their own.
    measured = st.container(border=True, height=150 if screen == 720 and step.view == "watch" else "content")
    with st.expander(f"**{ui.plain(step.question, None)}**", icon=":material/help:"):  # the answer, behind a reveal
        st.text(step.answer)
    parts.step_buttons(n, count, screen is not None)
with view:
    if problems:
        for e in problems:
            st.error(ui.plain(e), icon=":material/error:")
    else:
        for sentence in parts.show_step(step, value, HEIGHTS[screen], screen, key=f"lesson_{lesson.name}_{n}"):
            measured.text(sentence)
