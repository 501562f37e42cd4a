"""TrainConfig's defaults are the shipped recipe: `eqbridge train` without --config trains what ships."""

from pathlib import Path

from model.config import TrainConfig

PRESETS = Path(__file__).resolve().parents[2] / "presets" / "checkpoints"


def test_the_defaults_are_the_shipped_faust_peq_recipe() -> None:
    assert TrainConfig() == TrainConfig.from_toml(PRESETS / "faust-peq.toml")


def test_a_recipe_that_differs_is_not_the_default() -> None:
    assert TrainConfig.from_toml(PRESETS / "zameq2.toml") != TrainConfig()
