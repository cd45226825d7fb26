"""The advisor's commands through a subprocess: output, exit codes, and interactive mode in a pseudo-terminal."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ANSWERS = ROOT / "data" / "sample" / "answers.yaml"


def advisor(*args: str, cwd: Path = ROOT, input: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "advisor", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env, input=input)


def test_questions_json_and_text():
    out = advisor("questions", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    ids = [q["id"] for q in data["questions"]]
    assert "change" in ids and "gpus" in ids
    text = advisor("questions")
    assert text.returncode == 0 and "labelled_pairs" in text.stdout and "asked when" in text.stdout


def test_decide_json_has_the_promised_keys():
    out = advisor("decide", "--answers", str(SAMPLE_ANSWERS), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("recommendation", "method", "confidence", "margin", "reasons", "flip", "risks", "prerequisites", "next_steps", "estimates"):
        assert key in data, key
    assert data["reasons"] and all("rule" in r and "text" in r for r in data["reasons"])
    assert "estimates" in data["estimates"]["note"]


def test_decide_json_method_when_fine_tuning(tmp_path):
    answers = yaml.safe_load(SAMPLE_ANSWERS.read_text())
    answers.update({"change": ["task_skill"], "labelled_pairs": "1k_10k", "gpus": "consumer", "training_budget": "small", "model_size": "13B"})
    for key in ("knowledge_change_rate", "citations_required", "knowledge_base_size", "removable_facts"):
        answers.pop(key)
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    out = advisor("decide", "--answers", str(path), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["recommendation"] == "fine-tune" and data["method"] == "qlora"
    assert data["estimates"]["training"]["estimate"] is True


@pytest.mark.parametrize("fmt,marker", [("text", "Recommendation:"), ("md", "# Recommendation:")])
def test_decide_text_and_markdown(fmt, marker, tmp_path):
    out = advisor("decide", "--answers", str(SAMPLE_ANSWERS), "--format", fmt, "--out", str(tmp_path / "rec.txt"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(marker)
    assert "What would change the advice" in out.stdout and "Next steps" in out.stdout
    assert (tmp_path / "rec.txt").read_text() == out.stdout


def test_decide_bad_answers_exit_2_listing_everything(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("change: [knowledge]\nmetric: maybe\ncolour: blue\n")
    out = advisor("decide", "--answers", str(path))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    for fragment in ("unknown question id `colour`", "`metric` must be one of", "missing required answer `labelled_pairs`", "missing required answer `knowledge_change_rate`"):
        assert fragment in out.stderr, fragment
    missing = advisor("decide", "--answers", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    path.write_text("change: [knowledge\n")
    broken = advisor("decide", "--answers", str(path))
    assert broken.returncode == 2 and "not valid YAML" in broken.stderr


def test_estimate_text_json_and_published():
    out = advisor("estimate", "--model-size", "7B", "--method", "lora", "--gpu", "a100-80", "--inference", "--corpus-tokens", "1000000")
    assert out.returncode == 0, out.stderr
    assert "ESTIMATES" in out.stdout and "fits" in out.stdout and "estimates" in out.stdout and "RAG:" in out.stdout
    js = advisor("estimate", "--model-size", "13B", "--method", "lora", "--gpu", "rtx4090", "--format", "json", "--price", "0.5")
    data = json.loads(js.stdout)
    assert data["training"]["fits"] is False and data["training"]["estimate"] is True
    pub = advisor("estimate", "--published")
    assert pub.returncode == 0 and "7B QLoRA, 4-bit" in pub.stdout and "off by at most" in pub.stdout
    bad = advisor("estimate", "--gpu", "abacus")
    assert bad.returncode == 2 and "Unknown device" in bad.stderr
    bad = advisor("estimate", "--model-size", "lots")
    assert bad.returncode == 2 and "Unknown model" in bad.stderr


def test_plan_command_writes_a_loadable_plan(tmp_path):
    out_path = tmp_path / "plan.yaml"
    out = advisor("plan", "--answers", str(SAMPLE_ANSWERS), "--data", "data/sample/pairs.jsonl", "--corpus", "data/sample/pages.jsonl", "--out", str(out_path))
    assert out.returncode == 0, out.stderr
    assert "advisor sweep start --plan" in out.stdout
    from advisor.plan import load_plan

    plan = load_plan(out_path)
    assert plan.data.dataset == "data/sample/pairs.jsonl"
    printed = advisor("plan", "--answers", str(SAMPLE_ANSWERS))
    assert printed.returncode == 0 and printed.stdout.startswith("# Experiment plan")


def test_plan_command_refuses_what_does_not_fit(tmp_path):
    answers = yaml.safe_load(SAMPLE_ANSWERS.read_text())
    answers.update({"gpus": "datacentre", "gpu_model": "t4", "model_size": "70B", "training_budget": "small"})
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(answers))
    out = advisor("plan", "--answers", str(path), "--out", str(tmp_path / "plan.yaml"))
    assert out.returncode == 2
    assert "Plan refused" in out.stderr and "does not fit" in out.stderr
    assert not (tmp_path / "plan.yaml").exists()
    missing = advisor("plan", "--answers", str(SAMPLE_ANSWERS), "--data", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


# ----------------------------------------------------------------------------- interactive (pty)
# One line per question, in questionnaire order; "9" is a wrong first answer that must be re-asked.
INTERACTIVE_LINES = [
    "a support bot for our product catalogue",  # use_case
    "1",          # change: knowledge
    "9",          # knowledge_change_rate: not a choice -> asked again
    "5",          # knowledge_change_rate: daily (v2 added quarterly before it)
    "y",          # citations_required
    "2",          # knowledge_base_size: medium
    "",           # removable_facts: default
    "3",          # labelled_pairs: 100-1k
    "2",          # labelling_capacity
    "1",          # output_format: free text
    "",           # output_kind: default (not sure)
    "1",          # metric: automatic
    "3",          # prompting_result: partial
    "2",          # error_cost: medium
    "", "", "",   # latency, context, volume: defaults
    "1",          # privacy: cloud ok
    "", "",       # model_size_limit, model_size
    "1",          # gpus: none (gpu_model is then not asked)
    "2",          # training_budget
    "2",          # team_experience
    "",           # mlops
]


def _run_in_pty(args: list[str], lines: list[str], timeout: float = 60.0) -> tuple[int, str]:
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "advisor", *args], cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    output = b""
    pending = list(lines)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                # Answer each prompt as it appears (prompts end with "> (...) ").
                while pending and output.count(b"> (") > len(lines) - len(pending):
                    os.write(master, (pending.pop(0) + "\n").encode())
            elif proc.poll() is not None:
                break
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, output.decode(errors="replace")


def test_interactive_mode_through_a_pseudo_terminal(tmp_path):
    saved = tmp_path / "answers.yaml"
    code, out = _run_in_pty(["decide", "--save-answers", str(saved)], INTERACTIVE_LINES)
    assert code == 0, out
    assert "[1/" in out and "1) Know facts it lacks" in out
    assert "9 is not a choice number" in out  # the bad answer was explained and asked again
    assert "Which card exactly?" not in out  # does not apply without GPUs
    assert "Recommendation: RAG" in out
    answers = yaml.safe_load(saved.read_text())
    assert answers["knowledge_change_rate"] == "daily" and answers["citations_required"] is True
    rerun = advisor("decide", "--answers", str(saved), "--format", "json")
    assert json.loads(rerun.stdout)["recommendation"] == "rag"


def test_interactive_mode_reports_early_end_of_input():
    out = advisor("decide", input="x\n1\n")
    assert out.returncode == 2 and "Input ended before question" in out.stderr


def test_help_texts_state_the_real_config_defaults():
    import re

    from advisor.cli import build_parser
    from rag.config import RagConfig
    from tuning.generate import GenerationSettings

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices

    def help_of(cmd, flag, action=None):
        p = sub[cmd]
        if action:
            p = next(a for a in p._actions if a.dest == f"{cmd}_command").choices[action]
        return next(a.help for a in p._actions if flag in a.option_strings)

    def default(text):
        return re.search(r"default (\d+)", text).group(1)

    g = GenerationSettings()
    assert default(help_of("eval", "--max-new-tokens")) == str(g.max_new_tokens)
    assert default(help_of("eval", "--batch-size")) == str(g.batch_size)
    assert default(help_of("rag", "--max-new-tokens", "eval")) == str(g.max_new_tokens)
    assert default(help_of("rag", "--chunk-size", "build")) == str(RagConfig().chunk_size)
    assert default(help_of("rag", "--chunk-overlap", "build")) == str(RagConfig().chunk_overlap)
