"""The app: page setup and navigation only; each page lives in pages/, what they share in ui/. `streamlit run
app.py` finds the `App` below and serves this same file as the Streamlit script, with one HTTP route of ours
in front of it: a stroke on the Draw page answered without a script rerun (ui/quick_answer.py)."""

import streamlit as st

if __name__ != "__main__":  # imported by the server to find the App; each script run executes this file as __main__
    from ui.quick_answer import middleware

    app = st.App(__file__, middleware=middleware())
else:
    import ui.startup  # noqa: F401  (first: it loads the engine once and leaves Streamlit's pages-folder mode)
    from ui.i18n import language_picker, t
    from ui.join import classroom_controls
    from ui.sidebar import nickname_box, teacher_box, track_page
    from ui.widgets import app_style, streamlit_labels

    st.set_page_config(page_title=t("MNIST MLP studio"), page_icon=":material/draw:", layout="wide")
    navigation = st.navigation([
        st.Page("pages/train.py", title=t("Train"), icon=":material/monitoring:", default=True),
        st.Page("pages/draw.py", title=t("Draw"), icon=":material/draw:"),
        st.Page("pages/mistakes.py", title=t("Mistakes"), icon=":material/search_insights:"),
        st.Page("pages/inside.py", title=t("Inside"), icon=":material/biotech:"),
        st.Page("pages/our_class.py", title=t("Class"), icon=":material/groups:"),
        st.Page("pages/leaderboard.py", title=t("Leaderboard"), icon=":material/leaderboard:"),
    ])
    language_picker()  # the sidebar's language box, first: a visitor who cannot read the rest finds it
    st.html(app_style())  # no chart toolbar over a phone's chart titles, no English "Stop" in another language
    streamlit_labels()  # Streamlit's own words in its attributes (what a screen reader reads), in the language
    nickname_box()  # the sidebar's nickname, on every page
    teacher_box()  # and the teacher code box
    classroom_controls()  # the join panel and the projector mode
    track_page(navigation.url_path)  # which page this run shows; on a phone the sidebar closes once one is chosen
    navigation.run()
