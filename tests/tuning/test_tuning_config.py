"""TrainConfig: validation lists every problem; YAML round trip; shipped recipes load."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from tuning.config import TrainConfig

RECIPES = sorted((Path(__file__).resolve().parents[2] / "tuning" / "recipes").glob("*.yaml"))


def test_defaults_validate():
    TrainConfig().validate()


def test_validation_collects_every_problem():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"rank": 0, "dropout": 1.5, "learning_rate": -1, "target_modules": "some", "max_length": 4})
    text = str(err.value)
    for field in ("rank", "dropout", "learning_rate", "target_modules", "max_length"):
        assert f"`{field}" in text or f"`0 <= {field}" in text or f"`0 < {field}" in text or f"`16 <= {field}" in text, field
    assert "5 problem(s)" in text


def test_unknown_field_and_bad_literal_are_named():
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"rnak": 8, "method": "lorax", "packing": "zip"})
    text = str(err.value)
    assert "unknown field `rnak`" in text and "`method` must be one of" in text and "`packing` must be one of" in text


def test_rule_combinations():
    with pytest.raises(ConfigError, match="early_stopping_patience"):
        TrainConfig(early_stopping_patience=2, eval_every=0).validate()
    with pytest.raises(ConfigError, match="fp16"):
        TrainConfig(method="full", precision="fp16").validate()


def test_yaml_round_trip(tmp_path):
    config = TrainConfig(method="dora", rank=4, target_modules=["q_proj", "v_proj"], max_steps=7, system_prompt="Be brief.")
    path = tmp_path / "c.yaml"
    path.write_text(config.to_yaml(header="advisor tune --config c.yaml"), encoding="utf-8")
    assert path.read_text().startswith("# advisor tune")
    assert TrainConfig.load(path) == config
    assert config.replace(rank=8).rank == 8


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_load(recipe):
    assert recipe.read_text().startswith("# advisor tune")
    load_config(TrainConfig, recipe)
