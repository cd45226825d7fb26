"""Typed configs: every problem reported at once, naming the field, the value and the rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from core.config import MAX_CONFIG_BYTES, Problems, dump_yaml, from_dict, load_config, parse_structured, read_structured, to_dict
from core.errors import ConfigError


@dataclass
class Inner:
    rank: int = 8
    """LoRA rank."""
    alpha: float = 16.0
    """LoRA alpha."""


@dataclass
class Example:
    name: str
    """Required name."""
    lr: float = 1e-4
    """Learning rate."""
    epochs: int = 1
    """Epochs."""
    packing: bool = False
    """Pack sequences."""
    kind: Literal["lora", "dora"] = "lora"
    """Adapter kind."""
    targets: list[str] = field(default_factory=lambda: ["q_proj"])
    """Target modules."""
    budget: float | None = None
    """Optional budget in seconds."""
    inner: Inner = field(default_factory=Inner)
    """Nested config."""
    extra: dict = field(default_factory=dict)
    """Free-form mapping."""

    def validate(self) -> None:
        problems = Problems("Example")
        problems.check(self.lr > 0, f"`lr > 0` must hold, but got lr={self.lr}")
        problems.check(self.epochs >= 1, f"`epochs >= 1` must hold, but got epochs={self.epochs}")
        problems.raise_if_any()


def test_defaults_and_coercion():
    cfg = from_dict(Example, {"name": "x", "lr": 1, "targets": ("a", "b"), "inner": {"rank": 4}, "budget": 3})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.targets == ["a", "b"] and cfg.inner == Inner(rank=4, alpha=16.0)
    assert cfg.budget == 3.0 and cfg.kind == "lora"


def test_every_type_problem_at_once():
    with pytest.raises(ConfigError) as info:
        from_dict(
            Example,
            {"lr": "fast", "epochs": 1.5, "packing": "yes", "kind": "qlora", "targets": "q_proj", "inner": {"rank": True, "bogus": 1}, "typo": 1, "extra": []},
        )
    message = str(info.value)
    for needle in ["missing required field `name`", "`lr` must be a number", "`epochs` must be an integer", "`packing` must be true or false",
                   "`kind` must be one of 'lora', 'dora'", "`targets` must be a list", "in `inner`: `rank` must be an integer",
                   "in `inner`: unknown field `bogus`", "unknown field `typo`", "`extra` must be a mapping"]:
        assert needle in message, needle
    assert message.count("\n  - ") >= 10


def test_validate_rules_run_after_types():
    with pytest.raises(ConfigError, match=r"`lr > 0` must hold, but got lr=-1.0") as info:
        from_dict(Example, {"name": "x", "lr": -1, "epochs": 0})
    assert "epochs >= 1" in str(info.value)
    with pytest.raises(ConfigError, match="expected a mapping"):
        from_dict(Example, ["not", "a", "mapping"])
    with pytest.raises(ConfigError, match="wrong type"):
        from_dict(Example, {"name": "x", "budget": "soon"})


def test_yaml_round_trip_with_header(tmp_path):
    cfg = from_dict(Example, {"name": "demo", "kind": "dora", "inner": {"alpha": 32}})
    text = dump_yaml(cfg, header="advisor sweep run --plan this.yaml\nsecond line")
    assert text.startswith("# advisor sweep run --plan this.yaml\n# second line\n")
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    again = load_config(Example, path)
    assert again == cfg and to_dict(again)["inner"] == {"rank": 8, "alpha": 32.0}
    js = tmp_path / "cfg.json"
    js.write_text('{"name": "j", "epochs": 3}', encoding="utf-8")
    assert load_config(Example, js).epochs == 3


def test_empty_file_uses_defaults_but_required_fields_are_reported(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing required field `name`"):
        load_config(Example, path)


def test_read_structured_errors_name_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_structured(tmp_path / "missing.yaml")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: x\nlr: [1, 2\nepochs: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        read_structured(bad_yaml)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n"a": 1,\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON: .* at line 3"):
        read_structured(bad_json)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_structured(latin)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="the limit is"):
        read_structured(huge)
    with pytest.raises(ConfigError, match="nested too deeply|could not be parsed|not valid"):
        parse_structured("[" * 100_000, json_only=True)


def test_problems_collects_and_raises_once():
    problems = Problems("plan")
    problems.check(True, "never shown")
    problems.raise_if_any()
    problems.add("first")
    problems.check(False, "second")
    with pytest.raises(ConfigError, match=r"Invalid plan \(2 problem\(s\)\):\n  - first\n  - second"):
        problems.raise_if_any()
