"""The Data and Compare pages per task kind (AppTest): the kind with its evidence and label set, the override,
and for the compared runs the kind's primary metric first, the baselines, per-class table and confusion matrix."""

from __future__ import annotations

import json

import pytest

from tests.app_fixtures import SAMPLES, add_kind_runs, by_key, classification_runs, errors_of, page_test


def _pick_sample(at, app_ws, sample: str):
    from core.uploads import store_upload

    store_upload(app_ws, f"{sample}.jsonl", (SAMPLES / sample / "pairs.jsonl").read_bytes())
    at.run()
    box = by_key(at, "selectbox", "source-pairs")
    box.select_index(next(i for i, o in enumerate(box.options) if sample in str(o))).run()
    assert not errors_of(at), errors_of(at)
    return at


def _info(at) -> str:
    return " ".join(i.value for i in at.info)


def _frozen_task(at, app_ws) -> dict:
    """Freeze the split on the page and read the task its manifest records."""
    at.button(key="freeze").click().run()
    [version] = app_ws.names("splits")
    return json.loads((app_ws.root / "splits" / version / "manifest.json").read_text(encoding="utf-8"))["task"]


def test_data_page_shows_the_inferred_kind_its_evidence_and_labels(app_ws):
    at = _pick_sample(page_test("data"), app_ws, "debian-sections")
    assert "**classification** (inferred): 12 distinct outputs over 360 pairs" in _info(at)
    labels = next(d.value for d in at.dataframe if "label" in d.value.columns)
    assert len(labels) == 12 and {"net", "games", "sound"} <= set(labels["label"])
    assert labels["pairs"].sum() == 360
    task = _frozen_task(at, app_ws)
    assert task["kind"] == "classification" and task["source"] == "inferred"


def test_data_page_override_of_the_kind_goes_into_the_split(app_ws):
    at = _pick_sample(page_test("data"), app_ws, "debian-sections")
    by_key(at, "selectbox", "task-kind").set_value("short_answer").run()
    assert not errors_of(at), errors_of(at)
    assert "**short_answer** (your choice): given by the user (the data alone suggest classification" in _info(at)
    task = _frozen_task(at, app_ws)
    assert task["kind"] == "short_answer" and task["source"] == "given"
    splits = next(d.value for d in at.dataframe if "version" in d.value.columns)
    assert list(splits["task"]) == ["short_answer"]


def test_data_page_given_labels_make_a_classification_over_them(app_ws):
    at = _pick_sample(page_test("data"), app_ws, "debian-metadata")
    assert "**structured** (inferred)" in _info(at)
    assert any("installed_size_kib" in c.value for c in at.caption)  # the schema inferred from the outputs
    by_key(at, "text_input", "task-labels").input("utils, net").run()
    assert "**classification** (your choice)" in _info(at)
    labels = next(d.value for d in at.dataframe if "label" in d.value.columns)
    assert list(labels["label"]) == ["utils", "net"]


@pytest.fixture
def classification(app_ws):
    split, runs = classification_runs(app_ws)
    at = page_test("report").run()
    at.multiselect(key="rp-runs").set_value(runs).run()
    assert not errors_of(at), errors_of(at)
    return at, split


def _expected_accuracy(split, answer_of) -> float:
    test = list(split.test)
    return sum(answer_of(i, p) == p.output for i, p in enumerate(test)) / len(test)


def test_compare_page_classification_primary_first_baselines_per_class_confusion(classification):
    at, split = classification
    test = list(split.test)
    scores = at.dataframe[0].value
    assert [c for c in scores.columns if c not in ("run", "kind", "system", "study", "trial")][:2] == ["accuracy", "accuracy interval"]
    assert "Task kind: classification" in [s.value for s in at.subheader]
    assert any("Primary metric: **accuracy**" in c.value for c in at.caption)
    kind = next(d.value for d in at.dataframe if "accuracy interval" in d.value.columns and "system" in d.value.columns and "run" in d.value.columns
                and "kind" not in d.value.columns)
    lora = _expected_accuracy(split, lambda i, p: p.output if i % 4 else "games")
    assert kind.set_index("run").loc["lora-cls", "accuracy"] == pytest.approx(lora)
    baselines = next(d.value for d in at.dataframe if "baseline" in d.value.columns)
    majority = max(split.task.label_counts, key=lambda label: (split.task.label_counts[label], label))
    assert list(baselines["baseline"]) == [f"majority class ('{majority}')", "chance (one label at random)"]
    assert baselines["accuracy"].iloc[0] == pytest.approx(sum(p.output == majority for p in test) / len(test))
    assert baselines["accuracy"].iloc[1] == pytest.approx(1 / 12)
    # The per-class table and the confusion matrix open on the best run (LoRA), rows: reference, columns: answer.
    assert by_key(at, "selectbox", "rp-class-run").value == "lora-cls"
    per_class = next(d.value for d in at.dataframe if "precision" in d.value.columns)
    assert per_class["support"].sum() == len(test) and set(per_class["class"]) == set(split.task.labels)
    confusion = next(d.value for d in at.dataframe if "reference" in d.value.columns)
    assert "(no label)" in confusion.columns
    cells = confusion.drop(columns=["reference", "(no label)"]).to_numpy()
    assert cells.trace() == round(lora * len(test)) and cells.sum() == len(test)


def test_compare_page_reads_a_report_the_row_lacks_from_its_predictions(classification):
    at, split = classification
    by_key(at, "selectbox", "rp-class-run").set_value("base-cls").run()
    confusion = next(d.value for d in at.dataframe if "reference" in d.value.columns)
    assert confusion["(no label)"].sum() == len(split.test)  # every answer of the base run is no label
    by_key(at, "selectbox", "rp-class-run").set_value("rag-cls").run()  # stored without its report
    assert not errors_of(at), errors_of(at)
    confusion = next(d.value for d in at.dataframe if "reference" in d.value.columns)
    rag = _expected_accuracy(split, lambda i, p: p.output if i % 2 else "net")
    assert confusion.drop(columns=["reference", "(no label)"]).to_numpy().trace() == round(rag * len(split.test))


def test_compare_page_structured_shows_field_f1_first_and_parse_rate(app_ws):
    def half_broken(i, p):
        return p.output if i % 2 else p.output[:-3]  # a cut object does not parse

    def wrong_section(i, p):
        data = json.loads(p.output)
        return json.dumps({**data, "section": "misc"})

    _split, runs = add_kind_runs(app_ws, "debian-metadata", {"lora-json": ("lora", half_broken), "base-json": ("base", wrong_section)})
    at = page_test("report").run()
    at.multiselect(key="rp-runs").set_value(runs).run()
    assert not errors_of(at), errors_of(at)
    assert "Task kind: structured" in [s.value for s in at.subheader]
    scores = at.dataframe[0].value
    assert [c for c in scores.columns if c not in ("run", "kind", "system", "study", "trial")][0] == "field_f1"
    kind = next(d.value for d in at.dataframe if "parse rate" in d.value.columns).set_index("run")
    assert list(kind.columns)[:2] == ["system", "field F1"]
    assert kind.loc["lora-json", "parse rate"] == pytest.approx(0.5) and kind.loc["base-json", "parse rate"] == 1.0
    assert kind.loc["base-json", "exact match (canonical JSON)"] == 0.0
    assert 0.5 < kind.loc["base-json", "field F1"] < 1.0  # every field right but one
    assert not any("baseline" in d.value.columns for d in at.dataframe)  # no class baselines for JSON
    assert not any("reference" in d.value.columns for d in at.dataframe)


def test_compare_page_says_when_runs_do_not_share_a_kind(app_ws):
    _s, cls = classification_runs(app_ws)
    _t, js = add_kind_runs(app_ws, "debian-metadata", {"lora-json": ("lora", lambda i, p: p.output)})
    at = page_test("report").run()
    at.multiselect(key="rp-runs").set_value([cls[0], js[0]]).run()
    assert not at.exception
    assert "do not share one task kind" in _info(at)
