"""Config: YAML, flags overriding it, validation, the argparse surface."""

from __future__ import annotations

import argparse

import pytest

from xling.config import TrainConfig, add_config_arguments, make_config, overrides_from_args, parse_files
from xling.errors import ConfigError


def parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_config_arguments(parser)
    args = parser.parse_args(argv)
    return make_config(TrainConfig, args.config, overrides_from_args(args))


def test_yaml_then_flags_override(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("task: panx\nmodel: m\nlearning_rate: 3e-5\nlanguages: de,es\nfusion_options:\n  reduction: 8\n"
                    "freeze_embeddings: yes\n")
    cfg = parse(["--config", str(path), "--learning-rate", "1e-4", "--fusion-option", "norm=batch",
                 "--no-freeze-embeddings", "--file", "de:test=/x/a.tsv", "--file", "es:dev=/x/b.tsv+/x/c.tsv"])
    assert cfg.task == "panx" and cfg.learning_rate == 1e-4
    assert cfg.languages == ["de", "es"]
    assert cfg.fusion_options == {"norm": "batch"}  # the flag replaces the file's mapping
    assert cfg.freeze_embeddings is False
    assert cfg.files == {"de": {"test": "/x/a.tsv"}, "es": {"dev": ["/x/b.tsv", "/x/c.tsv"]}}


def test_unset_flags_keep_yaml_values(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 7\nepochs: 2\n")
    cfg = parse(["--config", str(path), "--task", "xnli"])
    assert (cfg.seed, cfg.epochs, cfg.task) == (7, 2.0, "xnli")


def test_unknown_yaml_key_suggests(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("learning_rat: 1\n")
    with pytest.raises(ConfigError, match="unknown option 'learning_rat'.*Did you mean learning_rate"):
        parse(["--config", str(path)])


def test_bad_values():
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="mixed_precision"):
        TrainConfig(mixed_precision="fp8")
    with pytest.raises(ConfigError, match="--file expects LANG:SPLIT=PATH"):
        parse_files(["de=path"])


def test_config_is_frozen():
    cfg = TrainConfig(task="panx")
    with pytest.raises(AttributeError):
        cfg.task = "xnli"  # type: ignore[misc]
    assert cfg.replace(task="xnli").task == "xnli" and cfg.task == "panx"


def test_require_names_flags():
    with pytest.raises(ConfigError, match="--model, --output-dir"):
        TrainConfig(task="panx").require("task", "model", "output_dir")
