"""Optuna's own plots on a page: plotly (interactive) when installed, else the matplotlib variants."""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import streamlit as st

PLOTS = {
    "history": ("plot_optimization_history", "Optimization history: every trial's value and the best so far"),
    "importance": ("plot_param_importances", "Hyper-parameter importance (fANOVA)"),
    "parallel": ("plot_parallel_coordinate", "Parallel coordinates: each line is a trial"),
    "intermediate": ("plot_intermediate_values", "Learning curves: the values trials reported (pruned ones stop early)"),
}


def has_plotly() -> bool:
    return importlib.util.find_spec("plotly") is not None


def optuna_plot(study: Any, kind: str) -> None:
    """Draw one of Optuna's plots for ``study``; says why when there is not enough to draw yet."""
    function, caption = PLOTS[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna marks the matplotlib backend experimental
            if has_plotly():
                import optuna.visualization as vis

                st.plotly_chart(getattr(vis, function)(study), width="stretch")
            else:
                import matplotlib

                matplotlib.use("Agg")
                import matplotlib.pyplot as plt
                import optuna.visualization.matplotlib as vis

                result = getattr(vis, function)(study)
                figure = result.figure if hasattr(result, "figure") else result.flat[0].figure
                figure.set_size_inches(8, 3.6)
                figure.tight_layout()
                st.pyplot(figure, width="stretch")
                plt.close(figure)
    except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as exc:
        st.caption(f"{caption}: not enough finished trials to draw it yet ({exc}).")
        return
    st.caption(caption)
