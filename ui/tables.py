"""Tables as the pages show them: scores formatted, a missing one as a dash (never a raw None): `with_dashes`
formats the values, and each st.dataframe is given `placeholder=DASH` (Streamlit draws a missing cell itself)."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

DASH = "—"  # a score not there (yet): a queued run's, a model not scored on the class's drawings


def with_dashes(rows: list[dict], formats: dict[str, str], decimal: str = ".") -> Styler:
    """The rows as a table for st.dataframe whose scores show formatted (`formats`: column -> "{:.2f}%"),
    with `decimal` as the decimal mark (the browser's language's), a missing one as a dash; the values stay
    numbers, so a click on a column's title still sorts by them."""
    frame = pd.DataFrame(rows)
    styler = frame.style
    for column, text in formats.items():
        if column in frame:
            styler = styler.format(text, subset=[column], na_rep=DASH, decimal=decimal)
    return styler
