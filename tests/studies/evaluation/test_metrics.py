"""Metric registry and each metric's per-item values."""

from __future__ import annotations

import pytest

from core.errors import EvaluationError
from studies.evaluation import metrics as m


def test_registry_lists_every_metric_with_what_it_rewards():
    names = m.available_metrics()
    assert set(m.DEFAULT_METRICS) <= set(names)
    for name, rewards in names.items():
        assert rewards and "\n" not in rewards, name
    with pytest.raises(EvaluationError, match="known metrics"):
        m.get_metric("bleu-9000")


def test_register_a_new_metric():
    @m.register("test_length_ratio")
    class LengthRatio:
        rewards = "answers as long as the reference"
        binary = False

        def score(self, predictions, references):
            return [min(len(p), len(r)) / max(len(p), len(r), 1) for p, r in zip(predictions, references)]

    assert m.get_metric("test_length_ratio").score(["ab"], ["abcd"]) == [0.5]
    assert isinstance(m.get_metric("test_length_ratio"), m.Metric)


def test_exact_match_normalises_whitespace_quotes_and_keeps_case():
    em = m.get_metric("exact_match")
    assert em.score(["  `ls   -la` ", "ls -r", "ls -la."], ["ls -la", "ls -R", "ls -la"]) == [1.0, 0.0, 1.0]


def test_token_f1_known_values():
    f1 = m.get_metric("token_f1")
    assert f1.score(["a b c", "a b", "", "x"], ["a b d", "a b", "", "y"]) == pytest.approx([2 / 3, 1.0, 1.0, 0.0])


def test_chrf_matches_sacrebleu_sentence_score():
    from sacrebleu.metrics import CHRF

    pred, ref = "docker ps --all", "docker ps -a"
    assert m.get_metric("chrf").score([pred], [ref])[0] == pytest.approx(CHRF().sentence_score(pred, [ref]).score / 100)
    assert m.get_metric("chrf").score([ref], [ref]) == [1.0]


def test_rouge_l_keeps_command_punctuation():
    rl = m.get_metric("rouge_l")
    # LCS of [tar, -xvf, a.tar] and [tar, -xvf, b.tar] is 2 of 3 tokens.
    assert rl.score(["tar -xvf a.tar"], ["tar -xvf b.tar"])[0] == pytest.approx(2 / 3)
    assert rl.score(["-a -b"], ["-b -a"])[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("command", "program", "flags"),
    [
        ("ls -la", "ls", {"-la"}),
        ("sudo apt-get install -y --no-install-recommends pkg", "apt-get", {"-y", "--no-install-recommends"}),
        ("FOO=1 env /usr/bin/python3 -m http.server", "python3", {"-m"}),
        ("git log --format=oneline -- file", "git", {"--format"}),
        ("echo 'unbalanced", "echo", set()),
        ("", "", set()),
    ],
)
def test_command_parsing(command, program, flags):
    assert m.program_name(command) == program
    assert m.flags(command) == flags


def test_command_metrics():
    prog, flags = m.get_metric("command_program"), m.get_metric("command_flags")
    preds = ["tar -x -v -f a.tar", "tar -xvf a.tar", "zip -r a.zip .", "git commit -m msg"]
    refs = ["tar -f b.tar -v -x", "tar -x -v -f a.tar", "tar -r a", "git commit -m other"]
    assert prog.score(preds, refs) == [1.0, 1.0, 0.0, 1.0]
    assert flags.score(preds, refs) == [1.0, 0.0, 0.0, 1.0]
    assert prog.score([""], [""]) == [0.0]


def test_mismatched_lengths_are_refused():
    with pytest.raises(EvaluationError, match="pair up"):
        m.get_metric("token_f1").score(["a"], [])


def test_embedding_similarity_unavailable_is_skipped_with_reason(monkeypatch):
    def broken(spec=None, device="cpu"):
        from core.errors import ModelLoadError

        raise ModelLoadError("not installed here")

    monkeypatch.setattr(m, "_EMBEDDER", None)
    monkeypatch.setattr("rag.embedder.load_embedder", broken)
    values, skipped = m.score_all(["exact_match", "embedding_similarity"], ["a"], ["a"])
    assert values == {"exact_match": [1.0]}
    assert "not installed here" in skipped["embedding_similarity"]


def test_embedding_similarity_with_a_stub_embedder(monkeypatch):
    import numpy as np

    class Stub:
        def encode(self, texts, **kw):
            vecs = np.array([[1.0, 0.0] if "ls" in t else [0.0, 1.0] for t in texts])
            return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    monkeypatch.setattr(m, "_EMBEDDER", Stub())
    assert m.get_metric("embedding_similarity").score(["ls -a", "cd"], ["ls", "ls"]) == [1.0, 0.0]


@pytest.mark.slow
def test_embedding_similarity_real_minilm():
    sim = m.get_metric("embedding_similarity").score(["list all files", "reboot the machine"], ["show every file", "show every file"])
    assert sim[0] > sim[1]
