"""The app: page setup and navigation only; each page lives in pages/, what they share in ui/."""

import streamlit as st

import ui.startup  # noqa: F401  (first: it loads the engine once and leaves Streamlit's pages-folder mode)
from ui.join import classroom_controls
from ui.sidebar import nickname_box, teacher_box, track_page

st.set_page_config(page_title="MNIST MLP studio", page_icon=":material/draw:", layout="wide")
navigation = st.navigation([
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:", default=True),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
    st.Page("pages/mistakes.py", title="Mistakes", icon=":material/search_insights:"),
    st.Page("pages/inside.py", title="Inside", icon=":material/biotech:"),
    st.Page("pages/our_class.py", title="Class", icon=":material/groups:"),
    st.Page("pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
])
nickname_box()  # the sidebar's nickname, on every page
teacher_box()  # and the teacher code box
classroom_controls()  # the join panel and the projector mode
track_page(navigation.url_path)  # which page this run shows; on a phone the sidebar closes once one is chosen
navigation.run()
