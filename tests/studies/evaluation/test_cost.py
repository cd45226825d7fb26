"""Serving cost arithmetic, checked against numbers worked out by hand."""

import json

import pytest

from core.errors import ConfigError
from studies.evaluation.cost import PriceTable, ServingProfile, break_even, load_price_table, serving_cost


def table() -> PriceTable:
    return PriceTable(per_hour={"cpu": 0.36, "nvidia-l4": 0.72, "gpu": 2.0}, api={"hosted": {"input": 0.5, "output": 2.0}})


def test_self_hosted_cost_by_hand():
    # 2 s per request at $0.36/h = $0.0002 per request; 1,000 requests $0.20; 500/day x 30 days = 15,000 requests = $3.00.
    p = ServingProfile("RAG", "rag", latency_s=2.0, latency_p95_s=3.5, prompt_tokens=400, completion_tokens=20, device="cpu")
    c = serving_cost(p, 500, table(), latency_budget_s=3.0)
    assert c.per_request_usd == pytest.approx(0.0002)
    assert c.per_1k_usd == pytest.approx(0.20)
    assert c.per_month_usd == pytest.approx(3.00)
    # 500 x 2 s = 1,000 busy seconds a day: one machine; on all month 720 h x $0.36 = $259.20.
    assert c.machines == 1 and c.always_on_month_usd == pytest.approx(259.20)
    assert c.within_budget is False  # p95 3.5 s over a 3 s budget


def test_machines_scale_with_volume_and_gpu_names_match():
    # 100,000/day x 1.8 s = 180,000 busy seconds = 2.08 days of work per day: 3 machines.
    p = ServingProfile("LoRA", "lora", 1.8, 2.0, 50, 20, device="cuda:0 NVIDIA L4")
    c = serving_cost(p, 100_000, table(), latency_budget_s=3.0)
    assert c.machines == 3
    assert c.per_request_usd == pytest.approx(1.8 * 0.72 / 3600)
    assert c.within_budget is True


def test_api_cost_per_token_by_hand():
    # (1,000 x $0.5 + 100 x $2.0) / 1e6 = $0.0007 per request; 1,000/day x 30 = $21.00 a month.
    p = ServingProfile("hosted", "api", 0.8, 1.2, 1000, 100, api_model="hosted")
    c = serving_cost(p, 1000, table())
    assert c.per_request_usd == pytest.approx(0.0007)
    assert c.per_month_usd == pytest.approx(21.0)
    assert c.machines == 0 and c.within_budget is None


def test_api_without_price_is_an_actionable_error():
    with pytest.raises(ConfigError, match="No API price for 'other'"):
        serving_cost(ServingProfile("x", "api", 1, 1, 1, 1, api_model="other"), 10, table())


def test_break_even_by_hand():
    # RAG 3 s at $0.36/h = $0.0003/request; LoRA 1 s = $0.0001; saving $0.0002. Training $2.00 -> 10,000 requests;
    # at 500 requests/day, 20 days.
    rag = serving_cost(ServingProfile("RAG", "rag", 3.0, 3.0, 500, 20), 500, table())
    lora = serving_cost(ServingProfile("LoRA", "lora", 1.0, 1.0, 60, 20, build_usd=2.0), 500, table())
    b = break_even(rag, lora, 500)
    assert b.saving_per_request_usd == pytest.approx(0.0002)
    assert b.requests == pytest.approx(10_000)
    assert b.days == pytest.approx(20)
    assert "10,000 requests" in b.sentence and "20 days" in b.sentence and "$2.00 of training" in b.sentence
    soon = break_even(rag, serving_cost(ServingProfile("LoRA", "lora", 1.0, 1.0, 60, 20, build_usd=0.002), 500, table()), 500)
    assert "$0.0020 of training" in soon.sentence and "within the first day" in soon.sentence


def test_break_even_never_when_fine_tune_is_not_cheaper():
    rag = serving_cost(ServingProfile("RAG", "rag", 1.0, 1.0, 500, 20), 500, table())
    lora = serving_cost(ServingProfile("LoRA", "lora", 1.5, 1.5, 60, 20, build_usd=2.0), 500, table())
    b = break_even(rag, lora, 500)
    assert b.requests is None and "never pays back" in b.sentence


def test_price_table_file_overrides_and_validates(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"per_hour": {"CPU": 0.5}, "api": {"h": {"input": 1, "output": 2}}}))
    t = load_price_table(path)
    assert t.hourly("cpu") == 0.5 and t.hourly("nvidia-h100") == 2.5 and t.api["h"]["output"] == 2
    path.write_text(json.dumps({"per_hour": {"cpu": -1}}))
    with pytest.raises(ConfigError, match="per_hour.cpu must be a number >= 0"):
        load_price_table(path)
    path.write_text(json.dumps({"gpus": {}}))
    with pytest.raises(ConfigError, match="only hold the keys"):
        load_price_table(path)
    with pytest.raises(ConfigError, match="requests_per_day"):
        serving_cost(ServingProfile("x", "rag", 1, 1, 1, 1), -5)
