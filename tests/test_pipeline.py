"""Pipelines: stage configs, a CLI run, resuming across a stage boundary, multi-task stages, xling train parity."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from tests.conftest import FIXTURES, run_cli
from xling.cli.pipeline import parse_intermediate, parse_task_options
from xling.config import TrainConfig, field_names, make_config
from xling.errors import ConfigError
from xling.training.pipeline import reset_fusion, run_pipeline
from xling.training.pipeline_config import PipelineConfig, describe, stage_specs
from xling.registry import UnknownNameError

SICK = FIXTURES / "sick_small"
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "intermediate-pawsx.yaml"  # 30 train / 12 dev pairs in the sick task's {split}-{lang}.tsv layout


def pipeline_args(model, sample_dir, out, *extra):
    """sick (30 pairs, 1 epoch: 4 steps) -> pawsx (40 pairs, 2 epochs: 10 steps), aif fusion."""
    return ["pipeline", "--model", model, "--intermediate", "sick", "--target", "pawsx",
            "--task-option", f"sick:data_dir={SICK}", "--task-option", "sick:epochs=1",
            "--task-option", f"pawsx:data_dir={sample_dir['pawsx']}", "--task-option", "pawsx:max_train_examples=40",
            "--languages", "en,de,fr", "--epochs", "2", "--batch-size", "8", "--learning-rate", "1e-3",
            "--fusion", "aif", "--fusion-layer", "1", "--max-seq-length", "48", "--quiet", "--seed", "3",
            "--output-dir", out, *extra]


@pytest.fixture(scope="module")
def finished_pipeline(tiny_bert, sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline") / "full"
    result = run_cli(*pipeline_args(tiny_bert, sample_dir, out, "--checkpoint-every", "100"))
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.mark.slow
def test_pipeline_records_every_stage(finished_pipeline):
    out, result = finished_pipeline
    assert "pipeline: sick{epochs=1} > pawsx" in result.stdout and "| language |" in result.stdout
    data = json.loads((out / "results.json").read_text())
    assert data["schema"] == "xling.results/1" and data["task"]["name"] == "pawsx"
    assert set(data["languages"]) == {"en", "de", "fr"} and data["averages"]["source_language"] == "en"
    first, target = data["stages"]
    assert (first["stage"], first["name"], first["task"], first["steps"], first["carry_fusion"]) == (1, "sick", "sick", 4,
                                                                                                      None)
    assert first["selection"]["metric"] == "accuracy" and first["config"]["epochs"] == 1 and not first["target"]
    assert (target["task"], target["steps"], target["carry_fusion"], target["target"]) == ("pawsx", 10, True, True)
    assert data["config"]["intermediate"] == "sick{epochs=1}" and data["config"]["task"] == "pawsx"
    assert data["timings"]["stage_train_seconds"][0] > 0 and len(data["timings"]["stage_train_seconds"]) == 2
    for stage in ("1-sick", "2-pawsx"):
        folder = out / "stages" / stage
        assert (folder / "stage.json").is_file() and (folder / "config.yaml").is_file()
        assert not (folder / "state.safetensors").exists() and not (folder / "checkpoint").exists()
    assert (out / "pipeline.yaml").is_file()
    spec = json.loads((out / "model" / "xling_model.json").read_text())
    assert set(spec["heads"]) == {"sick", "pawsx"}


@pytest.mark.slow
def test_a_finished_pipeline_can_be_scored_again(finished_pipeline):
    out, _ = finished_pipeline
    result = run_cli("evaluate", "--run", out, "--languages", "es", "--quiet")
    assert result.returncode == 0, result.stderr
    assert set(json.loads((out / "evaluate-pawsx-test-es.json").read_text())["languages"]) == {"es"}


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [5, 8], ids=["restart-stage-2", "resume-inside-stage-2"])
def test_killed_pipeline_resumes_across_a_stage_boundary(finished_pipeline, tiny_bert, sample_dir, tmp_path,
                                                         kill_after):
    """Killed in stage 2 (its step 5 precedes its first checkpoint; step 8 follows the one at 5)."""
    from safetensors.torch import load_file

    full, _ = finished_pipeline
    out = tmp_path / "killed"
    args = pipeline_args(tiny_bert, sample_dir, out, "--checkpoint-every", "100")
    killed = run_cli(*args, env={"XLING_TEST_KILL_AFTER_STEP": str(kill_after)})
    assert killed.returncode == -signal.SIGKILL
    assert (out / "stages" / "1-sick" / "stage.json").is_file() and (out / "stages" / "1-sick" / "state.safetensors").is_file()
    assert not (out / "results.json").exists()
    refused = run_cli(*args)
    assert refused.returncode == 2 and "unfinished run" in refused.stderr
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "stage 1/sick finished earlier; skipped" in resumed.stderr
    assert ("resumed from" in resumed.stdout + resumed.stderr) == (kill_after == 8)
    a, b = (json.loads((run / "results.json").read_text()) for run in (full, out))
    assert {k: v["metrics"] for k, v in a["languages"].items()} == {k: v["metrics"] for k, v in b["languages"].items()}
    assert [s["history"] for s in a["stages"]] == [s["history"] for s in b["stages"]]
    for name in ("encoder/model.safetensors", "xling_heads.safetensors"):  # the same weights, bit for bit
        x, y = load_file(str(full / "model" / name)), load_file(str(out / "model" / name))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    assert not list((out / "stages").rglob("state.safetensors"))


@pytest.mark.slow
def test_resuming_with_another_pipeline_is_refused(tiny_bert, sample_dir, tmp_path):
    out = tmp_path / "p"
    args = pipeline_args(tiny_bert, sample_dir, out)
    assert run_cli(*args, env={"XLING_TEST_KILL_AFTER_STEP": "6"}).returncode == -signal.SIGKILL
    changed = run_cli(*args, "--resume", "--task-option", "sick:epochs=2")
    assert changed.returncode == 2 and "cannot resume" in changed.stderr and "task_defaults" in changed.stderr


def test_no_intermediate_stage_is_exactly_xling_train(tiny_bert, sample_dir, tmp_path):
    from xling.training.run import run_training

    shared = dict(model=str(tiny_bert), data_dir=str(sample_dir["pawsx"]), languages=["en", "de"], epochs=1,
                  batch_size=8, learning_rate=1e-3, max_train_examples=32, fusion="aif", fusion_layer=2, quiet=True,
                  seed=5, save_model=False, save_predictions=False)
    plain = run_training(TrainConfig(task="pawsx", output_dir=str(tmp_path / "train"), **shared))
    piped = run_pipeline(PipelineConfig.of(target={"task": "pawsx"}, output_dir=str(tmp_path / "pipe"), **shared))
    assert piped.config["intermediate"] == "none" and len(piped.stages) == 1
    assert plain.stages[0]["history"] == piped.stages[0]["history"]
    assert {k: v.metrics for k, v in plain.languages.items()} == {k: v.metrics for k, v in piped.languages.items()}


def test_multitask_stage_trains_both_tasks_and_selects_on_their_mean(tiny_bert, sample_dir, tmp_path):
    cfg = PipelineConfig.of(
        model=str(tiny_bert), output_dir=str(tmp_path / "mt"), languages=["en", "de"], epochs=1, batch_size=8,
        learning_rate=1e-3, quiet=True, save_model=False, max_eval_examples=10, carry_fusion=False,
        fusion="aif", fusion_layer=1,
        task_defaults={"sick": {"data_dir": str(SICK), "epochs": 4},
                       "pawsx": {"data_dir": str(sample_dir["pawsx"]), "max_train_examples": 16}},
        stages=[{"tasks": ["sick", {"task": "panx", "data_dir": str(sample_dir["panx"]), "max_train_examples": 16}],
                 "sampler": "uniform"}],
        target={"task": "pawsx"},
    )
    results = run_pipeline(cfg)
    stage, target = results.stages
    assert stage["task"] == "sick+panx" and [t["task"] for t in stage["tasks"]] == ["sick", "panx"]
    assert [t["examples"] for t in stage["tasks"]] == [30, 16] and stage["features"] == 46
    assert stage["steps"] == 6 and stage["epochs"] == 1  # 4 + 2 batches; sick's epochs=4 is not a data option
    assert stage["sampler"] == {"name": "uniform", "temperature": 2.0, "probabilities": [0.5, 0.5]}
    for point in stage["history"]:
        assert set(point["tasks"]) == {"sick", "panx"}
        assert point["score"] == pytest.approx(sum(point["tasks"].values()) / 2)
    assert target["carry_fusion"] is False
    assert results.config["intermediate"] == ("sick+panx{panx.max_train_examples=16,sampler=uniform}"
                                              "; target fusion re-initialised")


def test_stage_options_follow_their_precedence(tmp_path):
    cfg = PipelineConfig.of(
        model="m", output_dir=str(tmp_path), epochs=2, learning_rate=1e-4,
        task_defaults={"panx": {"data_dir": "A", "epochs": 5, "learning_rate": "3e-4"}, "sick": {"data_dir": "S"}},
        stages=[{"task": "panx", "learning_rate": "5e-5"},
                {"tasks": ["sick", {"task": "panx", "max_train_examples": 7}], "sampler": "temperature",
                 "temperature": 3}],
        target={"task": "pawsx", "train_split": "dev", "selection_holdout": 500, "carry_fusion": False},
    )
    first, multi, target = stage_specs(cfg, tmp_path)
    assert first.configs[0].epochs == 5 and first.configs[0].learning_rate == 5e-5 and first.configs[0].data_dir == "A"
    sick, panx = multi.configs
    assert (panx.data_dir, panx.epochs, panx.learning_rate, panx.max_train_examples) == ("A", 2, 1e-4, 7)
    assert (sick.data_dir, sick.max_train_examples, multi.loop.task) == ("S", None, "sick+panx")
    assert (multi.sampler, multi.temperature, multi.carry_fusion) == ("temperature", 3.0, True)
    assert target.configs[0].train_split == "dev" and target.configs[0].selection_holdout == 500
    assert not target.carry_fusion and target.configs[0].languages == ["de", "en", "es", "fr", "ja", "ko", "zh"]
    assert [s.directory.name for s in (first, multi, target)] == ["1-panx", "2-sick+panx", "3-pawsx"]
    assert describe([first, multi, target]) == ("panx{epochs=5,learning_rate=5e-05} > "
                                                "sick+panx{panx.max_train_examples=7,sampler=temperature(T=3)}"
                                                "; target fusion re-initialised")
    assert describe([target]) == "none"


def test_pipeline_yaml_and_flags(tmp_path):
    path = tmp_path / "pipe.yaml"
    path.write_text("model: m\noutput_dir: out\nlearning_rate: 1e-5\nstages:\n  - task: sick\n    epochs: 1\n"
                    "  - panx\ntarget:\n  task: pawsx\n  train_split: dev\n  selection_holdout: 50\n"
                    "task_defaults:\n  panx: {data_dir: wikiann, train_languages: 'en,de'}\n")
    cfg = make_config(PipelineConfig, path, {"seed": 7})
    assert cfg.train.learning_rate == 1e-5 and cfg.train.seed == 7 and cfg.target["selection_holdout"] == 50
    stages = stage_specs(cfg, tmp_path)
    assert stages[1].configs[0].train_languages == ["en", "de"] and stages[0].configs[0].epochs == 1
    assert parse_intermediate("sick+panx, udpos") == [{"tasks": ["sick", "panx"]}, "udpos"]
    assert parse_task_options(["pawsx:train_split=dev", "pawsx:selection-holdout=500", "xnli:train_languages=en,de"]) \
        == {"pawsx": {"train_split": "dev", "selection_holdout": 500}, "xnli": {"train_languages": ["en", "de"]}}
    # the shared options are a TrainConfig, yet flat keys: pipeline.yaml lists them first, as it always has
    saved = cfg.to_dict()
    assert list(saved) == [*field_names(TrainConfig), "stages", "target", "task_defaults", "sampler", "temperature",
                           "carry_fusion"]
    assert make_config(PipelineConfig, None, saved) == cfg and cfg.replace(seed=8, sampler="uniform").train.seed == 8


def test_pipeline_flags_and_the_example_file(tmp_path):
    from xling.cli import build_parser
    from xling.cli.pipeline import pipeline_config

    args = build_parser().parse_args(["pipeline", "--config", str(EXAMPLE), "--intermediate", "panx", "--seed", "3",
                                      "--learning-rate", "1e-4", "--sampler", "uniform", "--no-carry-fusion",
                                      "--task-option", "panx:epochs=2", "--output-dir", str(tmp_path)])
    cfg = pipeline_config(args)
    assert (cfg.train.model, cfg.train.seed, cfg.train.learning_rate, cfg.train.freeze_embeddings) == \
        ("/work/ckpt/e5-small", 3, 1e-4, True)
    assert (cfg.stages, cfg.target, cfg.sampler, cfg.carry_fusion) == (["panx"], {"task": "pawsx"}, "uniform", False)
    assert cfg.task_defaults["panx"] == {"data_dir": "../shared/data/wikiann", "max_train_examples": 1000,
                                         "epochs": 2}
    with pytest.raises(ConfigError, match="no top-level task"):  # a top-level task in the YAML file
        make_config(PipelineConfig, EXAMPLE, {"task": "pawsx"})


@pytest.mark.parametrize("changes,message", [
    ({"task": "pawsx"}, "no top-level task"),
    ({"stages": [{"task": "sick", "lerning_rate": 1}]}, "Did you mean learning_rate"),
    ({"stages": [{"task": "sick", "fusion": "aif"}]}, "only be set for the whole pipeline"),
    ({"stages": [{"task": "sick", "tasks": ["panx"]}]}, "either task"),
    ({"stages": [{"tasks": ["sick", {"task": "panx", "epochs": 2}]}]}, "unknown option 'epochs'"),
    ({"stages": [{"tasks": ["sick", "sick"]}]}, "distinct tasks"),
    ({"sampler": "square"}, "sampler must be one of"),
    ({"task_defaults": {"panx": {"seed": 1}}}, "only be set for the whole pipeline"),
])
def test_config_errors_say_what_is_wrong(changes, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.of(model="m", output_dir="o", target={"task": "pawsx"}, **changes)


def test_unknown_tasks_missing_target_and_multitask_targets_fail_early(tmp_path):
    with pytest.raises(UnknownNameError, match="Did you mean panx"):
        stage_specs(PipelineConfig.of(model="m", stages=["panxx"], target={"task": "pawsx"}), tmp_path)
    with pytest.raises(ConfigError, match="target stage has one task"):
        stage_specs(PipelineConfig.of(model="m", target={"tasks": ["pawsx", "xnli"]}), tmp_path)
    with pytest.raises(ConfigError, match="needs a target stage"):
        run_pipeline(PipelineConfig.of(model="m", output_dir=str(tmp_path / "x"), stages=["sick"]))
    assert not (tmp_path / "x").exists()


def test_reset_fusion_gives_a_fresh_module(tiny_bert):
    from accelerate.utils import set_seed

    from xling.models import build_fusion
    from xling.models.build import build_run_model
    from xling.tasks import get_task

    model = build_run_model(get_task("pawsx"), TrainConfig(model=str(tiny_bert), fusion="aif", fusion_layer=1))
    with torch.no_grad():
        for p in model.fusion.parameters():
            p.add_(1.0)
    set_seed(11)
    reset_fusion(model)
    set_seed(11)
    fresh = build_fusion("aif", model.encoder.hidden_size, model.encoder.num_layers, 1)
    for (name, a), (_, b) in zip(model.fusion.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name
