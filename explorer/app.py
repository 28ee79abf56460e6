"""Entry point: `streamlit run explorer/app.py` from the repo root."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # Streamlit puts only explorer/ on sys.path
    sys.path.insert(0, str(ROOT))

# Page requests and background training share a small CPU: one intra-op thread each keeps a trace at
# milliseconds while a job trains (with two threads each they oversubscribe the cores and a trace takes
# hundreds of ms). Said before torch is first imported, which reads it: a page that runs no model on the server
# (Watch it read) never imports torch, a second of a cold server's first page.
os.environ["OMP_NUM_THREADS"] = "1"

import streamlit as st

from explorer import ui
from explorer.ui.navigation import pages

# An emoji icon: a Material icon for the browser tab would be fetched from the internet.
st.set_page_config(page_title="RNN Explorer", page_icon="🔁", layout="wide")

# The home page is served at / (its url_path only names it); /home is a hidden page that switches to it.
HOME = st.Page("../pages/home.py", title="Home", icon=":material/home:", url_path="start", default=True)
PAGES = [
    st.Page("../pages/watch.py", title="Watch it read", icon=":material/play_circle:", url_path="watch"),
    st.Page(
        "../pages/gradients.py", title="Gradients through time", icon=":material/show_chart:", url_path="gradients"
    ),
    st.Page("../pages/truncation.py", title="Truncation lab", icon=":material/content_cut:", url_path="truncation"),
    st.Page("../pages/memory.py", title="Memory across cells", icon=":material/memory:", url_path="memory"),
    st.Page("../pages/math.py", title="The math", icon=":material/function:", url_path="math"),
    st.Page("../pages/lesson.py", title="Lesson", icon=":material/school:", url_path="lesson"),
    st.Page("../pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
]
with st.sidebar:
    ui.keep_owner_cookie()
    ui.others_switch()  # every page's pickers read it
st.navigation(pages(HOME, PAGES)).run()
