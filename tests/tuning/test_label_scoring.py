"""Label scoring on the tiny model: shared-prefix scores equal full-sequence scores; the answer is always a label."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny(tiny_model_dir, tmp_path_factory):
    from core.workspace import Workspace
    from tuning.models import load_base_model

    ws = Workspace.resolve(tmp_path_factory.mktemp("ws")).ensure()
    return load_base_model(str(tiny_model_dir), ws, device="cpu")


def _naive(loaded, conversation, continuation_ids, settings):
    """log p(continuation | prompt) from one full forward pass over prompt + continuation."""
    import torch

    from tuning.generate import encode_prompts

    prompt = encode_prompts(loaded.tokenizer, [conversation], settings)[0][0]
    ids = torch.tensor([prompt + continuation_ids])
    with torch.inference_mode():
        logp = torch.log_softmax(loaded.model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(float(logp[len(prompt) - 1 + t, tok]) for t, tok in enumerate(continuation_ids))


@pytest.mark.parametrize("system", ["Classify.", "You are a classifier. Reply with exactly one of these labels and nothing else: "
                                    "positive, negative, neutral, mixed feelings overall."])
def test_shared_prefix_scores_match_full_sequences_and_answers_are_labels(tiny, system, monkeypatch):
    # The long system prompt is a prompt start every item shares: computed once, its cache copied per item.
    import tuning.label_scoring as label_scoring
    from tuning.generate import GenerationSettings
    from tuning.label_scoring import continuations, score_labels

    labels = ["positive", "negative", "neutral", "mixed feelings overall"]
    convs = [[{"role": "system", "content": system}, {"role": "user", "content": text}]
             for text in ("I loved it", "Terrible service, never again", "ok")]
    settings = GenerationSettings()
    shared = []
    original = label_scoring._shared_prefix
    monkeypatch.setattr(label_scoring, "_shared_prefix", lambda *a: shared.append(original(*a)) or shared[-1])
    out = score_labels(tiny, convs, labels, settings)
    assert (shared[0][1] is not None) == (len(system) > 20) and (shared[0][0] >= label_scoring.MIN_SHARED_TOKENS or shared[0][0] == 0)
    assert len(out) == 3
    for conv, item in zip(convs, out):
        assert item.label in labels and set(item.scores) == set(labels)
        assert item.label == max(labels, key=lambda label: item.scores[label])
        for label, cont in zip(labels, continuations(tiny.tokenizer, conv, labels, settings)):
            assert item.scores[label] == pytest.approx(_naive(tiny, conv, cont, settings), abs=1e-3)
        assert all(s < 0 for s in item.scores.values())


def test_label_replies_end_with_the_end_of_turn_token(tiny):
    from tuning.generate import GenerationSettings, stop_token_ids
    from tuning.label_scoring import continuations

    conts = continuations(tiny.tokenizer, [{"role": "user", "content": "x"}], ["pos", "positive"], GenerationSettings())
    stops = set(stop_token_ids(tiny.tokenizer))
    assert all(c[-1] in stops for c in conts) and conts[0] != conts[1]


def test_json_closed_finds_the_end_of_the_first_object():
    from tuning.generate import json_closed

    assert not json_closed('Sure: {"a": [1, 2')
    assert json_closed('Sure: {"a": [1, 2]} and more')
    assert not json_closed('{"a": "a } inside a string"')
    assert json_closed('{"a": "escaped \\" quote }"}')
    assert json_closed("[1, [2]]") and not json_closed("no json")


def test_generation_stops_at_the_end_of_the_object(tiny):
    """With a stub criterion input the tiny model's rows stop as soon as their decoded text closes an object."""
    import torch

    from tuning.generate import _JsonEnd

    class Tok:
        def decode(self, ids, skip_special_tokens=True):
            return "".join({1: "{", 2: "}", 3: "x"}[i] for i in ids)

    crit = _JsonEnd(Tok(), width=1)
    ids = torch.tensor([[0, 1, 3, 2], [0, 1, 3, 3]])
    assert crit(ids, None).tolist() == [True, False]


def test_a_peft_wrapped_model_scores_the_same_and_passes_the_cache_by_its_current_name(tiny, recwarn):
    """A PEFT wrapper's forward takes ``**kwargs``: the cache keyword comes from the output, so transformers 5
    gets ``cache`` (the old name warns on every call) and a fresh LoRA (B = 0) scores exactly like its base."""
    import copy
    import dataclasses
    import warnings

    from peft import LoraConfig, get_peft_model

    from tuning.generate import GenerationSettings
    from tuning.label_scoring import score_labels

    warnings.simplefilter("always")
    wrapped = get_peft_model(copy.deepcopy(tiny.model), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    labels = ["yes", "no", "maybe later"]
    convs = [[{"role": "user", "content": "Is it on?"}]]
    base = score_labels(tiny, convs, labels, GenerationSettings())[0]
    peft = score_labels(dataclasses.replace(tiny, model=wrapped), convs, labels, GenerationSettings())[0]
    assert peft.scores == pytest.approx(base.scores, abs=1e-5)
    assert not [w for w in recwarn.list if "past_key_values" in str(w.message)]
