"""The advisor's web app: `make app`, or `streamlit run streamlit_app.py` (see docs/app.md).

Routing only; every page lives in ``ui/pages`` and is one thin function over the libraries.
"""

import streamlit as st

from ui.navigation import build

st.set_page_config(page_title="Fine-tune or RAG? | Advisor", page_icon=":material/alt_route:", layout="wide")
build().run()
