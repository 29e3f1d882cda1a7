"""Parallel data across languages: declarations, data records, the leakage guard and the row-disjoint protocol."""

from __future__ import annotations

import json

import pytest

from xling.config import TrainConfig
from xling.data.parallel import compact_rows, content_hash, expand_rows
from xling.data.run_data import load_oracle_sets, load_targets, load_training
from xling.errors import LeakageError
from xling.tasks import get_task

ROWS = 30


def write_pawsx(root, rows: int = ROWS):
    """A PAWS-X-like folder: dev-{en,es,de} row-aligned; test-de labelled, test-es without labels."""
    root.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "es", "de"):
        lines = [f"{lang} a {i} .\t{lang} b {i} .\t{i % 2}" for i in range(rows)]
        (root / f"dev-{lang}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "test-es.tsv").write_text("".join(f"es t {i} .\tes u {i} .\n" for i in range(10)), encoding="utf-8")
    (root / "test-de.labeled.tsv").write_text(
        "id\tsentence1\tsentence2\tlabel\n" + "".join(f"{i}\tde t {i} .\tde u {i} .\t{i % 2}\n" for i in range(10)),
        encoding="utf-8")
    return root


def pawsx_cfg(root, **options) -> TrainConfig:
    base = dict(task="pawsx", data_dir=str(root), train_split="dev", selection_holdout=8, languages=["en", "es", "de"])
    return TrainConfig(**{**base, **options}).with_task_defaults(get_task("pawsx"))


def test_tasks_declare_their_parallel_splits():
    xnli, pawsx, xquad, mlqa = (get_task(n) for n in ("xnli", "pawsx", "xquad", "mlqa"))
    assert xnli.parallel_group("dev", "dev").by == "row" and pawsx.parallel_group("test", "test").by == "row"
    assert pawsx.parallel_group("dev", "test") is None  # dev and test are different rows
    group = xquad.parallel_group("test", "dev")  # XQuAD test <-> SQuAD v1.1 dev, by question id
    assert group.by == "id" and group.drop_from_selection
    assert mlqa.parallel_group("dev", "dev").by == "id" and get_task("tatoeba").parallel_group("test", "test")
    assert get_task("panx").parallel == () and get_task("tydiqa").parallel == ()


def test_rows_round_trip():
    assert compact_rows([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8" and expand_rows("0-2,5,7-8") == [0, 1, 2, 5, 7, 8]
    assert expand_rows("") == []


def test_dev_fallback_parallel_to_training_rows_stops(tmp_path):
    """README's old recipe: train on English dev, score es on its dev (the translations): an error, not a score."""
    root = write_pawsx(tmp_path / "pawsx")
    cfg = pawsx_cfg(root)
    training = load_training(get_task("pawsx"), cfg)
    with pytest.raises(LeakageError) as info:
        load_targets(get_task("pawsx"), cfg, training)
    message = str(info.value)
    assert "\n" not in message and "dev-es of pawsx" in message and f"{ROWS - 8} of {ROWS} examples" in message
    assert "dev[rest]-en" in message and "trained on" in message and "--parallel-holdout" in message
    assert "docs/leakage.md" in message


def test_selection_parallel_data_stops_too(tmp_path):
    """Training elsewhere but selecting on English dev rows still leaks into es dev: an error."""
    root = write_pawsx(tmp_path / "pawsx")
    (root / "train-en.tsv").write_text("".join(f"x {i} .\ty {i} .\t{i % 2}\n" for i in range(20)), encoding="utf-8")
    cfg = pawsx_cfg(root, train_split="train", selection_holdout=0)
    training = load_training(get_task("pawsx"), cfg)
    with pytest.raises(LeakageError, match=f"dev-es of pawsx: {ROWS} of {ROWS} examples .* selected on"):
        load_targets(get_task("pawsx"), cfg, training)


def test_row_disjoint_protocol(tmp_path):
    root = write_pawsx(tmp_path / "pawsx")
    cfg = pawsx_cfg(root, parallel_holdout=10)
    task = get_task("pawsx")
    training = load_training(task, cfg)
    targets, notes, warnings = load_targets(task, cfg, training)
    train_rows, selection_rows = set(training.train.rows), set(training.selection.rows)
    held_rows = set(training.held_out.rows)
    assert len(train_rows) == ROWS - 10 - 8 and len(selection_rows) == 8 and len(held_rows) == 10
    assert not (train_rows & selection_rows) and not (held_rows & (train_rows | selection_rows))
    # es (dev fallback) and en are scored on exactly the held-out rows; de on its own test set
    assert set(targets["es"].rows) == held_rows and set(targets["en"].rows) == held_rows
    assert targets["es"].examples[0].text_a.startswith("es a ")
    assert len(targets["de"]) == 10 and targets["de"].split == "test"
    assert notes["es"][0] == "test-es has no labels; scored on dev"  # one note per fact, the fallback first
    assert "held out" in notes["es"][1] and "10" in notes["es"][1]
    records = {(u.role, u.lang): u.record() for u in training.uses()}
    assert records[("held_out", "en")]["rows"] == compact_rows(held_rows) and records[("held_out", "en")]["n"] == 10
    assert records[("train", "en")]["n"] == 12 and records[("selection", "en")]["split"] == "dev[held-out]"
    assert records[("train", "en")]["sha256"] == content_hash(training.train.examples)
    assert str(root / "dev-en.tsv") in records[("train", "en")]["source"]


def test_oracle_sets_parallel_to_selection_are_left_out(tmp_path):
    root = write_pawsx(tmp_path / "pawsx")
    (root / "train-en.tsv").write_text("".join(f"x {i} .\ty {i} .\t{i % 2}\n" for i in range(20)), encoding="utf-8")
    task = get_task("pawsx")
    cfg = pawsx_cfg(root, train_split="train", selection_holdout=0, languages=["en", "de"])
    training = load_training(task, cfg)
    targets, _, _ = load_targets(task, cfg, training)
    warnings: list[str] = []
    assert load_oracle_sets(task, cfg, targets, training, warnings) == {}
    assert "oracle: dev-de left out" in warnings[0] and "--parallel-holdout" in warnings[0]
    # with held-out rows the oracle gets the dev rows nobody selected on
    cfg = cfg.replace(parallel_holdout=10)
    training = load_training(task, cfg)
    targets, _, _ = load_targets(task, cfg, training)
    oracle = load_oracle_sets(task, cfg, targets, training, warnings)
    assert set(oracle["de"].rows) == set(training.held_out.rows) and len(oracle["de"]) == 10


def write_squad(path, ids):
    paragraphs = [{"context": f"Context {i} is here .", "qas": [
        {"id": i, "question": f"What is {i} ?", "answers": [{"text": "here", "answer_start": len(f"Context {i} is ")}]}
    ]} for i in ids]
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}),
                    encoding="utf-8")
    return path


def test_xquad_selection_loses_the_evaluated_questions(tmp_path):
    """SQuAD dev holds the English source of every XQuAD question: they leave the selection set (recorded)."""
    task = get_task("xquad")
    squad_dev = write_squad(tmp_path / "dev-v1.1.json", [f"q{i}" for i in range(8)])
    train = write_squad(tmp_path / "train.json", [f"t{i}" for i in range(6)])
    data = tmp_path / "xquad"
    data.mkdir()
    for lang in ("en", "de"):
        write_squad(data / f"xquad.{lang}.json", ["q1", "q3", "q5"])
    cfg = TrainConfig(task="xquad", data_dir=str(data), languages=["en", "de"],
                      files={"en": {"train": str(train), "dev": str(squad_dev)}}).with_task_defaults(task)
    training = load_training(task, cfg)
    targets, _, warnings = load_targets(task, cfg, training)
    assert set(targets) == {"en", "de"}
    assert [e.id for e in training.selection.examples] == ["q0", "q2", "q4", "q6", "q7"]
    assert training.dropped["count"] == 3 and any("3 selection examples are evaluated" in w for w in warnings)
    selection = next(u.record() for u in training.uses() if u.role == "selection")
    assert selection["dropped_parallel"]["count"] == 3 and selection["rows"] == "0,2,4,6-7"


@pytest.mark.slow
def test_cli_records_data_and_evaluate_stops_on_parallel_rows(tiny_bert, tmp_path):
    """Train with the protocol (identity in results.json), then `xling evaluate` on the translations of the
    training rows: exit 2 with one line. On the held-out rows the same evaluation works."""
    from tests.conftest import run_cli

    root = write_pawsx(tmp_path / "pawsx")
    out = tmp_path / "run"
    trained = run_cli("train", "--task", "pawsx", "--model", tiny_bert, "--data-dir", root, "--output-dir", out,
                      "--train-split", "dev", "--selection-holdout", "8", "--parallel-holdout", "10",
                      "--languages", "en,es,de", "--epochs", "1", "--batch-size", "8", "--max-seq-length", "16",
                      "--quiet", "--no-oracle-selection")
    assert trained.returncode == 0, trained.stderr
    results = json.loads((out / "results.json").read_text())
    roles = {(r["role"], r["lang"]): r for r in results["data"]}
    assert set(roles) == {("train", "en"), ("selection", "en"), ("held_out", "en")}
    assert roles[("held_out", "en")]["n"] == 10 and roles[("train", "en")]["n"] == 12
    assert results["languages"]["es"]["examples"] == 10 and results["languages"]["en"]["examples"] == 10
    assert results["languages"]["es"]["split"] == "dev[held-out rows]" and results["languages"]["es"]["sha256"]
    again = run_cli("evaluate", "--run", out, "--languages", "es", "--eval-split", "dev", "--quiet")
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "evaluate-pawsx-dev-es.json").read_text())["languages"]["es"]["examples"] == 10
    # the same run without held-out rows: es dev is the translation of what it trained on
    leaky = tmp_path / "leaky"
    trained = run_cli("train", "--task", "pawsx", "--model", tiny_bert, "--data-dir", root, "--output-dir", leaky,
                      "--train-split", "dev", "--selection-holdout", "8", "--languages", "de", "--epochs", "1",
                      "--batch-size", "8", "--max-seq-length", "16", "--quiet", "--no-oracle-selection")
    assert trained.returncode == 0, trained.stderr
    stopped = run_cli("evaluate", "--run", leaky, "--languages", "es", "--eval-split", "dev", "--quiet")
    assert stopped.returncode == 2
    line = stopped.stderr.strip().splitlines()[-1]
    assert "dev-es of pawsx" in line and f"{ROWS - 8} of {ROWS} examples" in line and "--parallel-holdout" in line


def test_held_out_rows_are_cut_before_the_evaluation_cap(tmp_path):
    root = write_pawsx(tmp_path / "pawsx")
    task = get_task("pawsx")
    cfg = pawsx_cfg(root, parallel_holdout=10, max_eval_examples=6)
    training = load_training(task, cfg)
    targets, _, _ = load_targets(task, cfg, training)
    assert len(targets["es"]) == 6 and set(targets["es"].rows) <= set(training.held_out.rows)
    assert targets["es"].rows == targets["en"].rows  # the same rows in every language
    uncut, _, _ = load_targets(task, cfg.replace(parallel_holdout=0, train_split="train", selection_holdout=0,
                                                 languages=["de"]))
    plain = load_targets(task, cfg.replace(languages=["de"]), training)[0]["de"]
    assert plain.rows == uncut["de"].rows  # an uncut split gets load_split's own subset


def test_recorded_data_guards_a_later_evaluation(tmp_path):
    """`xling evaluate` / ensembles: what a finished run recorded is enough to stop (rows; ids re-read and hashed)."""
    from xling.data.run_data import recorded_data
    from xling.errors import DataError

    root = write_pawsx(tmp_path / "pawsx")
    task = get_task("pawsx")
    cfg = pawsx_cfg(root, languages=["de"])
    records = [u.record() for u in load_training(task, cfg).uses()]
    with pytest.raises(LeakageError, match="dev-es of pawsx"):
        load_targets(task, cfg.replace(languages=["es"], eval_split="dev"),
                     used=recorded_data(task, cfg, records, "run", []))
    warnings: list[str] = []
    assert recorded_data(task, cfg, [], "old-run", warnings) == [] and "not checked" in warnings[0]

    xquad = get_task("xquad")
    squad_dev = write_squad(tmp_path / "dev-v1.1.json", [f"q{i}" for i in range(8)])
    data = tmp_path / "xquad"
    data.mkdir()
    write_squad(data / "xquad.de.json", ["q1", "q3"])
    cfg = TrainConfig(task="xquad", data_dir=str(data), languages=["de"],
                      files={"en": {"train": str(write_squad(tmp_path / "t.json", ["t1", "t2"])),
                                    "dev": str(squad_dev)}}).with_task_defaults(xquad)
    training = load_training(xquad, cfg)
    before = [u.record() for u in training.uses()]  # selection still holds q1 and q3
    load_targets(xquad, cfg, training)
    after = [u.record() for u in training.uses()]
    assert load_targets(xquad, cfg, used=recorded_data(xquad, cfg, after, "run", []))[0]["de"]
    with pytest.raises(LeakageError, match="test-de of xquad: 2 of 2 examples are parallel \\(by id\\)"):
        load_targets(xquad, cfg, used=recorded_data(xquad, cfg, before, "run", []))
    write_squad(squad_dev, [f"q{i}" for i in range(8)][::-1])  # the file changed since the run read it
    with pytest.raises(DataError, match="not the data the run selected on"):
        recorded_data(xquad, cfg, after, "run", [])


def test_ensemble_checks_its_members_recorded_data(tmp_path):
    """An ensemble of runs that trained on English dev rows stops before scoring es dev (their translations)."""
    from tests.report_runs import make_run
    from xling.config import save_yaml
    from xling.evaluation.ensemble import run_ensemble

    root = write_pawsx(tmp_path / "pawsx")
    cfg = pawsx_cfg(root, languages=["es"])
    records = [u.record() for u in load_training(get_task("pawsx"), cfg).uses()]
    members = []
    for seed in (1, 2):
        directory = tmp_path / f"member{seed}"
        directory.mkdir()
        run = make_run(seed, {"es": 50.0}, task="pawsx", run_dir=str(directory))
        run.data = records
        run.save(directory)
        save_yaml(cfg.replace(seed=seed, output_dir=str(directory)), directory / "config.yaml")
        members.append(directory)
    with pytest.raises(LeakageError, match="dev-es of pawsx: 22 of 30 examples"):
        run_ensemble(members, tmp_path / "ensemble", languages=["es"])
