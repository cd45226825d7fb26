"""The advisor's web app: `make app`, or `streamlit run streamlit_app.py` (see docs/app.md).

Routing only; every page lives in ``ui/pages`` and is one thin function over the libraries.
"""

import streamlit as st

from core import quiet

from ui.auth import signed_in
from ui.navigation import build

quiet.install()  # third-party messages that alarm without helping (core/quiet.py)
st.set_page_config(page_title="Fine-tune or RAG? | Advisor", page_icon=":material/alt_route:", layout="wide")
if signed_in():  # always true unless ADVISOR_AUTH=1 (optional st.login, off by default)
    build().run()
