"""One module per page; each exposes ``page()``. Heavy imports live inside the functions."""
