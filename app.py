"""The app: page setup and navigation only; each page lives in pages/."""

import streamlit as st

import pages.shared  # noqa: F401  (first: it loads the engine once and leaves Streamlit's pages-folder mode)

st.set_page_config(page_title="MNIST MLP studio", page_icon="✏️", layout="wide")
navigation = st.navigation([
    st.Page("pages/train.py", title="Train", icon="📈", default=True),
    st.Page("pages/draw.py", title="Draw", icon="✏️"),
    st.Page("pages/mistakes.py", title="Mistakes", icon="🔍"),
    st.Page("pages/inside.py", title="Inside", icon="🔬"),
])
navigation.run()
