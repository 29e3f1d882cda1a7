"""Tasks declared in YAML files: a tiny NER task trains end to end; bad files name the file, the key and the choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from xling.errors import ConfigError
from xling.tasks import TASKS, get_task
from xling.tasks.from_yaml import TaskFileError, include_tasks, load_task_file

TASK_DIR = FIXTURES / "task_files"
TASK_FILE = TASK_DIR / "tinyner.yaml"
DATA = TASK_DIR / "data"
GOOD = """\
name: {name}
kind: tagging
languages: [en, de]
labels: [O, B-PER, I-PER]
metric: span_f1
local: ["{{lang}}/{{split}}.conllu"]
"""


def write(tmp_path: Path, text: str, name: str = "task.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_task_file_declares_the_same_fields_as_python():
    task = load_task_file(TASK_FILE)
    assert task.name == "tinyner" and task.kind == "tagging" and task.metric == "span_f1"
    assert task.languages == ("en", "de") and "B-MISC" in task.labels and task.num_labels == 9
    assert task.local[0].pattern == "{lang}/{split}.conllu" and task.options == {"epochs": 1}
    assert task.origin == str(TASK_FILE.resolve())


def test_task_file_reads_its_local_layout():
    from xling.data.loading import load_split

    task = get_task(str(TASK_FILE))
    dev = load_split(task, "en", "dev", data_dir=DATA)  # dev is found under its alias val
    assert len(dev.examples) == 8 and dev.labelled and dev.source.endswith("en/val.conllu")
    assert TASKS.get("tinyner") is task and get_task(str(TASK_FILE)) is task  # registered once


def test_include_tasks_registers_a_folder_and_tasks_lists_it(capsys):
    from xling.cli import main

    assert [t.name for t in include_tasks([TASK_DIR])] == ["tinyner"]
    assert main(["tasks", "tinyner", "--include-tasks", str(TASK_DIR)]) == 0
    out = capsys.readouterr().out
    assert "tinyner  [tagging, span_f1" in out and f"declared in {TASK_FILE.resolve()}" in out


def test_yaml_task_trains_end_to_end_and_evaluates_from_elsewhere(tiny_bert, tmp_path, monkeypatch):
    from xling.config import TrainConfig
    from xling.evaluation.reevaluate import evaluate_run
    from xling.training.run import run_training

    monkeypatch.chdir(TASK_DIR)  # a relative task file, as a user types it
    out = tmp_path / "run"
    cfg = TrainConfig(task="tinyner.yaml", model=str(tiny_bert), data_dir=str(DATA), output_dir=str(out),
                      train_split="dev", selection_holdout=2, batch_size=4, learning_rate=1e-3,
                      max_seq_length=32, oracle_selection=False, quiet=True)
    results = run_training(cfg)
    assert results.task["name"] == "tinyner" and results.task["file"] == str(TASK_FILE.resolve())
    assert set(results.languages) == {"en", "de"} and results.languages["de"].examples == 3
    assert results.stages[0]["steps"] == 2  # 6 training sentences, batches of 4, the task's 1 epoch
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["task"] == str(TASK_FILE.resolve())
    monkeypatch.chdir(tmp_path)  # the saved config names the file absolutely
    again = evaluate_run(out, {"languages": ["de"]}, tmp_path / "again.json")
    assert again.languages["de"].primary == pytest.approx(results.languages["de"].primary)


def test_pipeline_target_from_include_tasks(tiny_bert, tmp_path):
    from xling.training.pipeline_config import PipelineConfig, stage_specs

    cfg = PipelineConfig.of(model=str(tiny_bert), include_tasks=[str(TASK_DIR)], data_dir=str(DATA),
                            target={"task": "tinyner"})
    (stage,) = stage_specs(cfg, tmp_path)
    assert stage.tasks[0].name == "tinyner" and stage.configs[0].epochs == 1


BAD = [
    ("name: x\nkind: taging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: [a]\n",
     r"key 'kind': 'taging' is not allowed; allowed: .*pair_classification.*tagging"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: f2\nlocal: [a]\n",
     r"key 'metric': 'f2' is not allowed; allowed: .*span_f1"),
    ("kind: tagging\nlanguages: [en]\nmetric: span_f1\n", r"missing key\(s\) 'name'; a task file needs name, kind"),
    ("name: x\nkind: tagging\nlanguages: [en]\nmetric: span_f1\nlocal: [a]\n",
     r"key 'labels': a tagging task needs its label set"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: [a]\nlables: [O]\n",
     r"unknown key 'lables'; allowed: name, kind, description, languages, labels"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: [a]\n"
     "options: {label_case: lower}\n",
     r"key 'options.label_case': not an option of tagging tasks; allowed: epochs, lang3, tag_column"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: ['{language}/{split}.tsv']\n",
     r"key 'local\[0\].pattern': unknown placeholder\(s\) \['language'\].*allowed: \{lang\}, \{split\}, \{lang3\}"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: [{pattern: a, merged: true}]\n",
     r"unknown key local\[0\].'merged'; allowed: pattern, merge, label_file"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nhub: [{path: a, splits: {test: test}}]\n",
     r"key 'hub\[0\]': a hub source needs 'fields'"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\n", r"the task has no data source"),
    ("name: x\nkind: tagging\nlanguages: [de]\nlabels: [O]\nmetric: span_f1\nlocal: [a]\n",
     r"key 'train_language': 'en' is not one of the task's languages \(de\)"),
    ("name: x y\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: [a]\n",
     r"key 'name': 'x y' is not a task name; allowed: letters"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: [a]\nmax_seq_length: 0\n",
     r"key 'max_seq_length': expected a whole number >= 1"),
    ("name: x\nkind: tagging\nlanguages: [en]\nlabels: [O]\nmetric: span_f1\nlocal: [a]\ntrain_split: dev\n",
     r"key 'train_split': a run chooses its splits, not the task: use --train-split"),
    ("- name: x\n", r"expected a mapping of key: value"),
    ("name: [x\n", r"not valid YAML"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m.split(":")[0][:30] for _, m in BAD])
def test_bad_task_files_name_the_file_the_key_and_the_choices(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(TaskFileError, match=message) as info:
        load_task_file(path)
    assert str(info.value).startswith(str(path.resolve()))
    assert isinstance(info.value, ConfigError)


def test_a_taken_name_is_refused_and_the_same_file_is_reread(tmp_path):
    with pytest.raises(TaskFileError, match=r"key 'name': 'panx' is already taken \(a built-in task\)"):
        get_task(str(write(tmp_path, GOOD.format(name="panx"))))
    path = write(tmp_path, GOOD.format(name="yamltask_reread"))
    first = get_task(str(path))
    path.write_text(GOOD.format(name="yamltask_reread").replace("[en, de]", "[en, de, fr]"))
    assert get_task(str(path)).languages == ("en", "de", "fr") and first.languages == ("en", "de")
    other = write(tmp_path, GOOD.format(name="yamltask_reread"), "other.yaml")
    with pytest.raises(TaskFileError, match=f"already taken \\(declared in {path.resolve()}\\)"):
        get_task(str(other))


def test_cli_prints_one_line_errors(tmp_path, capsys):
    from xling.cli import main

    path = write(tmp_path, GOOD.format(name="x").replace("kind: tagging", "kind: ner"))
    assert main(["train", "--task", str(path), "--model", "m", "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"xling: error: {path.resolve()}: key 'kind': 'ner' is not allowed; allowed: ")
    assert len(err.splitlines()) == 1
    assert main(["tasks", "--include-tasks", str(tmp_path / "nowhere")]) == 2
    assert "--include-tasks" in (err := capsys.readouterr().err) and "no such folder or file" in err
    with pytest.raises(KeyError, match=r"Or give a YAML task file"):
        get_task("wikineurall")
