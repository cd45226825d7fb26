"""Settings: the workspace in use, the compute device, and the models available."""

from __future__ import annotations

import streamlit as st

from ui.common import guarded, workspace


@st.cache_resource(show_spinner="Checking the compute device...")
def _device():  # torch import: once per app process
    from advisor.environment import device_info

    return device_info()


@guarded
def page() -> None:
    from advisor.environment import (
        available_models,
        optional_packages,
        workspace_summary,
    )

    st.title("Settings")
    ws = workspace()
    summary = workspace_summary(ws)

    st.subheader("Workspace")
    st.code(str(summary.root), language=None)
    st.caption("Every artifact (leaderboard, Optuna storage, indexes, adapters, reports, uploads) lives here. "
               "Set it with the environment variable `ADVISOR_WORKSPACE` before starting the app "
               "(`ADVISOR_WORKSPACE=/data/advisor make app`).")
    st.dataframe(
        [{"area": kind, "items": n} for kind, n in summary.counts.items()]
        + [{"area": "leaderboard.duckdb", "items": int(summary.has_leaderboard)},
           {"area": "optuna.db", "items": int(summary.has_optuna)}],
        hide_index=True,
        width="content",
    )

    st.subheader("Device")
    device = _device()
    if device.kind == "cuda":
        st.success(f"{device.count} GPU(s): {device.name}, {device.memory_gb} GB each. Training uses bf16; "
                   "sweep workers are pinned one per GPU.", icon=":material/memory:")
    else:
        st.info(f"CPU only: {device.name} ({device.cpu_cores} cores). Fine-tuning runs, slowly: keep to the "
                "small default model, or run sweeps on a GPU machine with `advisor sweep worker`.",
                icon=":material/memory:")
    st.caption(f"torch {device.torch_version or 'not installed'}")

    st.subheader("Models")
    models = available_models(ws)
    st.dataframe(
        [{"role": m.role, "name": m.name, "ready": m.ready, "location": m.location, "note": m.note} for m in models],
        hide_index=True,
    )
    for m in models:
        if not m.ready:
            st.warning(m.note)

    st.subheader("Optional packages")
    packages = optional_packages()
    st.write(", ".join(f"{name}: {'yes' if ok else 'no'}" for name, ok in packages.items()))
    if not packages["plotly"]:
        st.caption("Without plotly the Sweeps page draws Optuna's plots with matplotlib (`pip install plotly` "
                   "for interactive ones).")
