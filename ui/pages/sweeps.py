"""Sweeps: start one from a plan (or the recommendation's plan), watch it live, stop it.

Sweeps run in background worker processes, never in this script: the page only starts them (a
second start finds them running and adds none) and reads their status from the Optuna storage, so
reloading, a second tab or an app restart neither kills nor duplicates a sweep.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from ui.common import empty_state, guard, guarded, recall, workspace
from ui.state import drawn_by_page, from_timer, picker, select
from ui.views import trial_rows

REFRESH_S = 3


def _start(ws) -> None:
    from advisor.sweep_launch import (
        demo_sweep_config,
        device_warning,
        start_sweep,
        sweep_config_from_file,
        with_trials,
    )
    from core.uploads import UPLOAD_SUFFIXES, store_upload

    st.subheader("Start a sweep")
    sources = ["A plan or sweep config file", "The recommendation's plan", "A quick demo (synthetic, no model)"]
    source = st.radio("From", sources, key="sw-source", horizontal=True,
                      help="Plans come from `advisor plan` (or the Decide page). The demo runs a cheap synthetic "
                           "objective to show how a sweep looks, in seconds.")
    c1, c2, c3 = st.columns(3)
    name = c1.text_input("Sweep name (blank: from the plan)", key="sw-name")
    trials = c2.number_input("Trials (0: the plan's budget)", 0, 10_000, 0, key="sw-trials")
    workers = c3.number_input("Worker processes", 1, 16, 1, key="sw-workers",
                              help="On a GPU machine, one per GPU. Other machines join with `advisor sweep worker`.")
    config = None
    if source == sources[0]:
        upload = st.file_uploader("Plan (YAML or JSON)", type=[s.lstrip(".") for s in UPLOAD_SUFFIXES["plans"]],
                                  key="sw-plan")
        if upload is None:
            st.caption("Make a plan with `advisor plan --answers answers.yaml --data pairs.jsonl --out plan.yaml`, "
                       "then upload it here.")
            return
        with guard():
            path = store_upload(ws, upload.name, upload.getvalue(), "plans")
            config = with_trials(sweep_config_from_file(str(path), name=name or None), int(trials) or None)
    elif source == sources[1]:
        with guard():
            from advisor.sweep_launch import recommendation_sweep_config

            config = recommendation_sweep_config(ws, recall("recommendation"), name or None, int(trials) or None,
                                                 dataset=recall("dataset"), corpus=recall("corpus"),
                                                 split_version=recall("split"))
        if config is None:
            return
    else:
        with guard():
            config = demo_sweep_config(name or "demo-synthetic", int(trials) or 12)
    if config is None:
        return
    st.caption(f"Sweep `{config.name}`: objective {config.objective}, {config.n_trials} trials, "
               f"{config.sampler} sampler, {config.pruner} pruner, {config.direction} {config.metric}.")
    warning = device_warning(config)
    if warning:
        st.warning(warning, icon=":material/memory:")
    if st.button("Start sweep", type="primary", key="sw-start", icon=":material/play_arrow:"):
        first = (f"a {config.lr_range_steps}-step learning-rate range test, " if config.lr_range_steps else "")
        with guard(), st.spinner(f"Starting `{config.name}`: {first}creating the study, launching the workers..."):
            info = start_sweep(ws, config, workers=int(workers))
            select("sweep", config.name)
            st.success(f"Sweep `{config.name}` running in the background with {len(info['workers'])} worker(s) "
                       f"(pids {', '.join(str(w['pid']) for w in info['workers'])}). It keeps running if you close "
                       "this page.", icon=":material/rocket_launch:")


def _status(ws, name: str, plots: bool):
    from advisor.sweep_launch import storage_for
    from studies.sweeps.status import sweep_status

    url = storage_for(ws, name, None)
    status = sweep_status(url, name, ws)  # read only: the workers put finished trials on the leaderboard
    st.progress(min(1.0, status.finished / status.n_trials) if status.n_trials else 0.0,
                text=f"{status.finished} of {status.n_trials} trials finished"
                + (f" · {status.finished_reason}" if status.finished_reason else ""))
    cols = st.columns(6)
    best = "-" if status.best_value is None else f"{status.best_value:.4g}"
    for col, (label, value) in zip(cols, [("done", status.done), ("running", status.running), ("pruned", status.pruned),
                                          ("failed", status.failed), (f"best {status.metric}", best),
                                          ("tokens", f"{status.tokens:,}")]):
        col.metric(label, value)
    alive = [w for w in status.workers if w.get("alive")]
    eta = "" if status.eta_s is None or status.complete else f" · about {timedelta(seconds=int(status.eta_s))} left"
    st.caption(f"Storage {status.storage} · {len(alive)} local worker(s) alive{eta}"
               + (" · stop requested" if status.stop_requested else ""))
    if status.best_trial is not None:
        st.markdown(f"**Best so far:** trial {status.best_trial}, {status.metric} = {best}, `{status.best_params}`")
    if status.workers and not alive and status.running and not status.complete:
        st.warning(f"No local worker is alive but trials are marked running: they are retried when a worker "
                   f"restarts. Logs: `{ws.root / 'sweeps' / name / 'logs'}`.")
    st.dataframe(trial_rows(status, _running_since(url, name) if status.running else {}),
                 hide_index=True, width="stretch", height=260)
    if status.running:
        st.caption("Running trials show the time since they started, the training step they reached and their tokens (updated every few seconds).")
    if plots and status.done + status.pruned >= 2:
        import optuna

        from ui.plots import optuna_plot

        study = optuna.load_study(study_name=name, storage=url)
        tabs = st.tabs(["History", "Importance", "Parallel coordinates", "Learning curves"])
        for tab, kind in zip(tabs, ("history", "importance", "parallel", "intermediate")):
            with tab:
                optuna_plot(study, kind)
    elif plots:
        st.caption("Plots appear once two trials have finished.")
    return status


def _running_since(url: str, name: str) -> dict:
    """When each running trial started (trial number -> datetime)."""
    from optuna.trial import TrialState

    from studies.sweeps.study import load_study

    study, _ = load_study(url, name, heartbeat=False)
    return {t.number: t.datetime_start for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}


def _running(ws, name: str) -> tuple[bool, bool]:
    """(whether the sweep still has work going on: a live local worker, or trials running or queued;
    whether a stop was requested)."""
    from advisor.sweep_launch import storage_for
    from studies.sweeps.processes import local_workers
    from studies.sweeps.status import sweep_status

    status = sweep_status(storage_for(ws, name, None), name, with_trials=False)
    alive = bool(local_workers(ws, name, alive_only=True))
    return alive or (not status.complete and (status.running > 0 or status.waiting > 0)), status.stop_requested


@guarded
def page() -> None:
    from advisor.sweep_launch import stop_sweep, sweep_names

    st.title("Sweeps")
    st.caption("Optuna searches LoRA (or RAG) settings; a pruner stops weak trials early. Every completed trial is "
               "evaluated and lands on the leaderboard, whether or not this page is open.")
    ws = workspace()
    _start(ws)

    st.subheader("Watch")
    names = sweep_names(ws)
    if not names:
        empty_state("No sweep yet: start one above (the demo takes about a minute), or from the command line with "
                    "`advisor sweep start --plan plan.yaml`.")
        return
    name = picker("Sweep", names, key="sw-watch", remember_as="sweep")
    running, stopping = _running(ws, name)
    c1, c2, c3 = st.columns([1, 1, 2])
    live = c1.toggle("Live", value=True, key="sw-live", disabled=not running,
                     help=f"Refresh every {REFRESH_S} s while the sweep runs (reads the storage only); a finished "
                          "sweep is drawn once.")
    plots = c2.toggle("Plots", value=True, key="sw-plots")
    if running and c3.button("Stopping..." if stopping else "Stop sweep", key=f"sw-stop-{name}", icon=":material/stop:",
                             disabled=stopping, help="A running trial ends at its next training step."):
        with guard():
            st.info(stop_sweep(ws, name))
    if not running:
        c3.caption("Finished or stopped: no worker runs. Start it again above (same name) to resume a stopped sweep.")

    @st.fragment(run_every=timedelta(seconds=REFRESH_S) if live and running else None)
    def watch() -> None:
        with guard():
            status = _status(ws, name, plots)
            if running and from_timer("sweeps") and status is not None and not _running(ws, name)[0]:
                st.rerun()  # it just finished: redraw once without the timer

    drawn_by_page("sweeps")
    watch()
