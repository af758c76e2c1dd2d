from dataclasses import asdict
from pathlib import Path

import pytest

from reenact.config import AnimateConfig, load_config, save_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_shipped_yaml_equals_the_defaults():
    assert load_config(AnimateConfig, CONFIGS / "animate.yaml") == AnimateConfig()


def test_overrides_win_and_round_trip(tmp_path):
    cfg = load_config(AnimateConfig, CONFIGS / "animate.yaml", size=512, alpha=0.5, motion=None)
    assert cfg.size == 512 and cfg.alpha == 0.5
    save_config(cfg, tmp_path / "c.yaml")
    assert asdict(load_config(AnimateConfig, tmp_path / "c.yaml")) == asdict(cfg)


@pytest.mark.parametrize("bad,match", [({"size": 300}, "size"), ({"motion": "sideways"}, "motion"),
                                       ({"alpha": -1}, "alpha"), ({"colour": 1}, "unknown")])
def test_bad_values_are_named(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        load_config(AnimateConfig, None, **bad)
