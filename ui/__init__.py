"""The Streamlit app's pages (``ui/pages``) and the little glue they share (``ui/common.py``).

Pages are thin: each is one function that reads widgets, calls the libraries and renders.
"""
