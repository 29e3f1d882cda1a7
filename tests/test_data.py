"""Finding data: local layouts, labels files, merged treebanks, overrides, the hub code path, errors."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from xling.errors import ConfigError, DataError, MissingDataError
from xling.tasks import TASKS, get_task
from xling.data.loading import load_split
from tests.conftest import FIXTURES


def test_every_task_is_one_declaration_with_a_metric_and_kind():
    from xling.kinds import KINDS
    from xling.metrics import METRICS

    assert {"xnli", "pawsx", "panx", "udpos"} <= set(TASKS.names())
    for name in TASKS:
        task = TASKS.get(name)
        assert task.metric in METRICS and task.kind in KINDS
        assert task.train_language in task.languages or task.kind == "retrieval"


def test_unknown_task_lists_choices():
    with pytest.raises(KeyError, match=r"Unknown task 'pnx'. Did you mean panx\?.*Choices: .*udpos"):
        get_task("pnx")


def test_xnli_test_labels_come_from_the_labels_file():
    data = load_split(get_task("xnli"), "de", "test", data_dir=FIXTURES / "xtreme_pairs")
    assert data.labelled and [e.label for e in data.examples] == ["entailment", "contradiction"]
    assert "test-labels.tsv" in data.source


def test_labeled_copy_preferred_over_stripped_file():
    data = load_split(get_task("pawsx"), "es", "test", data_dir=FIXTURES / "xtreme_pairs")
    assert data.labelled and data.source.endswith("test-es.labeled.tsv")


def test_unlabelled_split_is_reported_as_unlabelled():
    data = load_split(get_task("pawsx"), "fr", "test", data_dir=FIXTURES / "xtreme_pairs")
    assert not data.labelled


def test_panx_nested_layouts_with_split_aliases():
    task = get_task("panx")
    root = FIXTURES / "panx_nested"
    test = load_split(task, "de", "test", data_dir=root)
    assert test.examples[0].tags == ["B-PER", "O"]
    dev = load_split(task, "de", "dev", data_dir=root)  # found as val.conllu
    assert dev.source.endswith("val.conllu")
    pt = load_split(task, "pt", "dev", data_dir=root)  # found as xtreme_dev/dev-pt.tsv.gz
    assert pt.examples[0].tokens == ["Ana"]


def test_udpos_merges_treebanks_of_a_language():
    data = load_split(get_task("udpos"), "en", "test", data_dir=FIXTURES / "conllu")
    assert len(data.examples) == 3  # 2 sentences + 1 from the second treebank
    assert "en_other" in data.source and "en_tiny" in data.source


def test_missing_data_names_every_path_tried(tmp_path):
    with pytest.raises(MissingDataError) as info:
        load_split(get_task("panx"), "sw", "test", data_dir=tmp_path)
    message = str(info.value)
    assert "no test data for panx in 'sw'" in message
    assert str(tmp_path / "**/test-sw.tsv") in message and "conllu" in message


def test_missing_data_dir():
    with pytest.raises(MissingDataError, match="does not exist"):
        load_split(get_task("panx"), "de", "test", data_dir="/nonexistent/xling")


def test_ambiguous_files_are_an_error(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(FIXTURES / "ner_columns/train-en.tsv", tmp_path / sub / "dev-en.tsv")
    with pytest.raises(DataError, match="2 files match dev-en of panx"):
        load_split(get_task("panx"), "en", "dev", data_dir=tmp_path)


def test_empty_split_is_an_error(tmp_path):
    (tmp_path / "dev-en.tsv").write_text("\n\n")
    with pytest.raises(DataError, match="dev-en of panx is empty"):
        load_split(get_task("panx"), "en", "dev", data_dir=tmp_path)


def test_file_override_and_concatenation(tmp_path):
    task = get_task("panx")
    one = FIXTURES / "ner_columns/train-en.tsv"
    data = load_split(task, "xx", "train", files={"xx": {"train": [str(one), str(one)]}})
    assert len(data.examples) == 4
    with pytest.raises(ConfigError, match="does not exist"):  # a file named explicitly: never a fallback
        load_split(task, "xx", "train", files={"xx": {"train": str(tmp_path / "nope.tsv")}})


def test_max_examples_is_a_fixed_random_subset():
    task = get_task("udpos")
    a = load_split(task, "en", "test", data_dir=FIXTURES / "conllu", max_examples=2)
    b = load_split(task, "en", "test", data_dir=FIXTURES / "conllu", max_examples=2)
    assert [e.tokens for e in a.examples] == [e.tokens for e in b.examples]
    assert len(a.examples) == 2 and a.total == 3


def _hub_folder(tmp_path, config: str, split: str, dataset) -> str:
    """A local folder laid out like a hub dataset repo, loaded through datasets.load_dataset."""
    (tmp_path / config).mkdir(parents=True)
    dataset.to_parquet(str(tmp_path / config / f"{split}.parquet"))
    (tmp_path / "README.md").write_text(
        f"---\nconfigs:\n- config_name: {config}\n  data_files:\n  - split: {split}\n"
        f"    path: {config}/{split}.parquet\n---\n"
    )
    return str(tmp_path)


def test_hub_code_path_with_class_labels(tmp_path):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    task = get_task("panx")
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=list(task.labels)))})
    dataset = Dataset.from_dict({"tokens": [["Anna", "lacht"], ["in", "Rom"]], "ner_tags": [[1, 0], [0, 5]]},
                                features=features)
    hub = dataclasses.replace(task.hub[0], path=_hub_folder(tmp_path, "PAN-X.de", "validation", dataset))
    local_task = dataclasses.replace(task, hub=(hub,))
    data = load_split(local_task, "de", "dev", source="hub")
    assert data.labelled and data.examples[1].tags == ["O", "B-LOC"]
    assert data.source.startswith("hub:")


def test_hub_single_config_filtered_by_language_column(tmp_path):
    from datasets import Dataset

    task = get_task("xnli")
    dataset = Dataset.from_dict({"language": ["de", "fr", "de"], "sentence1": ["a", "b", "c"],
                                 "sentence2": ["x", "y", "z"], "gold_label": ["neutral", "entailment", "contradiction"]})
    hub = dataclasses.replace(task.hub[1], path=_hub_folder(tmp_path, "XNLI", "test", dataset))
    data = load_split(dataclasses.replace(task, hub=(hub,)), "de", "test", source="hub")
    assert [(e.text_a, e.label) for e in data.examples] == [("a", "neutral"), ("c", "contradiction")]


def test_unreachable_hub_lists_sources(tmp_path):
    task = get_task("pawsx")
    hubs = tuple(dataclasses.replace(h, path=str(tmp_path / "no-such-dataset")) for h in task.hub)
    with pytest.raises(MissingDataError) as info:
        load_split(dataclasses.replace(task, hub=hubs), "de", "dev", source="hub")
    assert info.value.args[0].count("hub:") == 2


def test_one_file_holding_every_split_sick():
    task = get_task("sick")
    train = load_split(task, "en", "train", data_dir=FIXTURES)
    dev = load_split(task, "en", "dev", data_dir=FIXTURES)
    assert [(e.text_a, e.label) for e in train.examples] == [("A man runs", "entailment")]  # labels lower-cased
    assert [e.label for e in dev.examples] == ["neutral"] and "SemEval_set=TRIAL" in dev.source


def test_multilingual_training_data_and_selection():
    from xling.config import TrainConfig
    from xling.data.run_data import load_training

    cfg = TrainConfig(task="panx", data_dir=str(FIXTURES / "ner_columns"), train_split="dev", dev_split="dev",
                      train_languages=["en", "de"], selection_holdout=1)
    training = load_training(get_task("panx"), cfg)
    assert training.train.lang == "en+de"
    assert len(training.train.examples) + len(training.selection.examples) == 4


def test_missing_layout_lists_what_was_tried_and_how_to_name_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "english-train.txt").write_text("Maria B-PER\n")
    with pytest.raises(MissingDataError) as info:
        load_split(get_task("panx"), "en", "train", data_dir=tmp_path)
    message = str(info.value)
    assert f"{tmp_path}/**/train-en.tsv[.gz]" in message and f"{tmp_path}/**/en/train.conllu[.gz]" in message
    assert f"{tmp_path} holds: sub/english-train.txt" in message
    assert "--file en:train=PATH" in message and "xling tasks panx" in message
    assert "--train-split dev --selection-holdout N" in message
