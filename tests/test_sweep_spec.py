"""Sweep files: expansion (tasks x configs x grid x seeds, select candidates), names, merging, errors."""

from __future__ import annotations

import pytest

from xling.errors import ConfigError
from xling.sweep.options import format_value, name_part
from xling.sweep.spec import first_runs, load_spec, parse_memory, parse_spec, plan_run, points


def spec(**raw):
    return parse_spec({"base": {"task": "panx", "model": "bert-base-multilingual-cased"}, **raw}, "test.yaml")


def test_grid_configs_and_seeds_expand_to_stable_readable_names(tmp_path):
    s = spec(configs={"last": {"fusion": "last"}, "aif": {"fusion": "aif", "grid": {"fusion_layer": [4, 8]}}},
             grid={"learning_rate": ["1e-4", 2e-4]}, seeds=[1, 2])
    runs = first_runs(s, tmp_path)
    assert len(runs) == (1 + 2) * 2 * 2
    keys = [r.key for r in runs]
    assert keys[:4] == ["panx/last-lr1e-4-s1", "panx/last-lr1e-4-s2", "panx/last-lr0.0002-s1", "panx/last-lr0.0002-s2"]
    assert "panx/aif-L8-lr1e-4-s2" in keys and len(set(keys)) == len(keys)
    run = next(r for r in runs if r.key == "panx/aif-L8-lr1e-4-s2")
    assert run.label == "aif-L8-lr1e-4" and run.group == "panx/aif-L8-lr1e-4" and run.seed == 2
    assert run.options == {"task": "panx", "model": "bert-base-multilingual-cased", "fusion": "aif", "fusion_layer": 8,
                           "learning_rate": "1e-4", "quiet": True, "seed": 2,
                           "output_dir": str(tmp_path / "panx" / "aif-L8-lr1e-4-s2")}
    # a name says what the run is, not where it came in the expansion
    reordered = spec(configs={"aif": {"fusion": "aif", "grid": {"fusion_layer": [8, 4]}}, "last": {"fusion": "last"}},
                     grid={"learning_rate": [2e-4, "1e-4"]}, seeds=[2, 1])
    again = {r.key: r.options for r in first_runs(reordered, tmp_path)}
    assert again == {r.key: r.options for r in runs}


def test_tasks_merge_their_options_and_name_the_directory(tmp_path):
    s = parse_spec({"base": {"model": "m", "fusion_options": {"reduction": 4}, "languages": ["de"]},
                    "tasks": {"panx": {"data_dir": "data/wikiann"}, "udpos": {"languages": ["fr"]}},
                    "configs": {"g": {"fusion": "aif", "fusion_options": {"gate_bias": 4}}}, "seeds": "3"}, "t.yaml")
    runs = first_runs(s, tmp_path)
    assert [r.key for r in runs] == ["panx/g-s3", "udpos/g-s3"]
    panx, udpos = (r.options for r in runs)
    assert panx["fusion_options"] == {"reduction": 4, "gate_bias": 4}  # mappings merge key by key
    assert panx["data_dir"] == str((tmp_path.cwd() / "data" / "wikiann").absolute())  # paths made absolute
    assert panx["model"] == "m" and panx["languages"] == ["de"] and udpos["languages"] == ["fr"]  # a hub id stays


def test_pipeline_sweeps_set_the_target_task(tmp_path):
    s = parse_spec({"base": {"model": "m", "task_defaults": {"xnli": {"epochs": 2}}},
                    "tasks": ["xnli", "pawsx"],
                    "configs": {"direct": {"stages": []}, "sick": {"stages": ["sick"]}}, "seeds": [1]}, "t.yaml")
    assert s.command == "pipeline"
    runs = first_runs(s, tmp_path)
    assert [r.key for r in runs] == ["xnli/direct-s1", "xnli/sick-s1", "pawsx/direct-s1", "pawsx/sick-s1"]
    assert runs[1].options["target"] == {"task": "xnli"} and runs[1].options["stages"] == ["sick"]


def test_select_plans_candidates_on_the_selection_seeds(tmp_path):
    s = spec(configs={"last": {}, "aif": {"fusion": "aif"}}, seeds=[1, 2, 3],
             select={"key": "learning_rate", "values": ["1e-4", "2e-4"], "on": "english-dev", "seeds": [1]})
    runs = first_runs(s, tmp_path)
    assert [r.key for r in runs] == ["panx/last-lr1e-4-s1", "panx/last-lr2e-4-s1", "panx/aif-lr1e-4-s1",
                                     "panx/aif-lr2e-4-s1"]
    assert {r.label for r in runs} == {"last", "aif"} and [r.candidate for r in runs] == [0, 1, 0, 1]
    later = plan_run(s, tmp_path, runs[2].point, 3, candidate=1)
    assert later.key == "panx/aif-lr2e-4-s3" and later.options["learning_rate"] == "2e-4"
    both = spec(select={"grid": {"learning_rate": [1, 2], "pooling": ["first", "mean"]}})
    assert len(both.select.candidates) == 4 and both.select.candidates[3] == {"learning_rate": 2, "pooling": "mean"}
    assert [r.name for r in first_runs(both, tmp_path)][:2] == ["base-lr1-first-s42", "base-lr1-mean-s42"]


@pytest.mark.parametrize("raw, message", [
    ({"select": {"key": "learning_rate", "values": [1], "on": "target-dev"}}, "never on target languages"),
    ({"select": {"key": "learning_rate", "values": [1]}, "grid": {"learning_rate": [1]}}, "select chooses it"),
    ({"grid": {"seed": [1, 2]}}, "set by the sweep"),
    ({"base": {"task": "panx", "output_dir": "x"}}, "set by the sweep"),
    ({"grid": {"learning_rate": 1e-4}}, "non-empty list"),
    ({"gird": {}}, "Did you mean grid"),
    ({"seeds": ["a"]}, "list of integers"),
    ({"configs": {"a b": {}}}, "letters, digits"),
    ({"baseline": "nope", "configs": {"last": {}}}, "not one of the configs"),
    ({"resources": {"memory": "lots"}}, "not a size"),
    ({"base": {"task": "panx", "data_dir": "${XLING_SURELY_UNSET_VAR}"}}, "neither an environment variable"),
])
def test_bad_sweep_files_are_one_line_errors(raw, message):
    with pytest.raises(ConfigError, match=message):
        spec(**raw)


def test_no_task_and_clashing_names_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="a run has no task"):
        first_runs(parse_spec({"base": {"model": "m"}}, "t.yaml"), tmp_path)
    clash = spec(grid={"pooling": ["a b", "a_b"]})  # both become a_b in a directory name
    with pytest.raises(ConfigError, match="would both be named"):
        first_runs(clash, tmp_path)


def test_variables_paths_and_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("XLING_TEST_DATA", "/data/here")
    s = parse_spec({"vars": {"M": "~/models/e5", "ROOT": "${XLING_TEST_DATA}"},
                    "base": {"task": "panx", "model": "${M}", "data_dir": "${ROOT}/wikiann",
                             "files": {"de": {"test": "a.tsv+b.tsv"}}, "note": "${NOPE:-fallback}"}}, "t.yaml")
    run = first_runs(s, tmp_path)[0]
    assert run.options["data_dir"] == "/data/here/wikiann" and run.options["note"] == "fallback"
    assert run.options["model"].endswith("/models/e5") and not run.options["model"].startswith("~")
    assert run.options["files"]["de"]["test"].startswith("/")
    assert parse_memory("4GB") == 4_000_000_000 and parse_memory("512MiB") == 512 * 2**20 and parse_memory(None) is None


def test_name_parts():
    assert name_part("learning_rate", 2e-5) == "lr2e-5"
    assert name_part("fusion", "scalar_mix") == "scalar_mix"
    assert name_part("freeze_embeddings", True) == "freeze_embeddings=true"
    assert name_part("stages", [{"tasks": ["sick", "panx"]}, "udpos"]) == "sick+panx+udpos"
    assert name_part("model", "/models/e5-small/") == "e5-small"
    assert name_part("fusion_options", {"gate_bias": 4}) == "fusion_options=gate_bias=4"
    assert format_value(None) == "none" and format_value([]) == "none"


def test_resolved_spec_is_a_sweep_file_again(tmp_path):
    import yaml

    s = spec(configs={"aif": {"fusion": "aif", "grid": {"fusion_layer": [4]}}}, seeds=[1, 2], baseline="aif",
             select={"key": "learning_rate", "values": [1, 2], "seeds": [1]}, resources={"cpus": 2, "gpus": 0.25})
    saved = tmp_path / "sweep.yaml"
    saved.write_text(yaml.safe_dump(s.to_dict()))
    loaded = load_spec(saved)
    assert [r.key for r in first_runs(loaded, tmp_path)] == [r.key for r in first_runs(s, tmp_path)]
    assert loaded.resources == s.resources and loaded.select_seeds == (1,) and len(points(loaded)) == 1


def test_a_bare_on_key_is_read_as_on(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("base: {task: panx, model: m}\nselect: {key: learning_rate, values: [1e-4], on: english-dev}\n")
    assert load_spec(path).select.on == "english-dev"  # YAML 1.1 would make the key the boolean true


def test_runs_are_validated_as_their_process_will_read_them(tmp_path):
    from xling.sweep.spec import validate

    bad = first_runs(spec(grid={"learning_rate": ["fast"]}), tmp_path)[0]
    with pytest.raises(ConfigError, match="run panx/lrfast-s42: option learning_rate: cannot read 'fast'"):
        validate(bad)
    with pytest.raises(ConfigError, match="unknown option 'fusion_layers'"):
        validate(first_runs(spec(base={"task": "panx", "model": "m", "fusion_layers": 2}), tmp_path)[0])


def test_the_benchmark_sweep_files_expand_and_validate(tmp_path):
    from pathlib import Path

    from xling.sweep.spec import validate

    files = sorted((Path(__file__).parent.parent / "benchmarks" / "sweeps").glob("*.yaml"))
    assert {f.name for f in files} >= {"quality.yaml", "intermediate.yaml", "lr-panx.yaml", "lr-xnli.yaml"}
    for path in files:
        runs = first_runs(load_spec(path), tmp_path)
        for run in {r.config: r for r in runs}.values():  # one run per config
            validate(run)
    quality = [r.key for r in first_runs(load_spec(files[[f.name for f in files].index("quality.yaml")]), tmp_path)]
    assert len(quality) == 4 * 10 * 3 and "panx/aif8-s1" in quality  # the names quality_report.py reads


def test_a_missing_or_malformed_sweep_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="sweep file .*nope.yaml does not exist"):
        load_spec(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- base\n- configs\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"list.yaml: expected a mapping \(base:, grid:"):
        load_spec(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("base: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_spec(tmp_path / "bad.yaml")
