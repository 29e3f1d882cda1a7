"""Tatoeba retrieval: bitext files, cosine nearest neighbours both ways, encoders / layers / fusions, the CLI."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

from tests.conftest import FIXTURES, run_cli
from xling.errors import ConfigError, DataError, MissingDataError
from xling.reporting.results import Results
from xling.retrieval.tatoeba import (RetrievalConfig, available_languages, cosine_matrix, load_bitext, nearest_neighbours,
                             retrieval_metrics, run_retrieval)
from xling.tasks import get_task

TATOEBA_DIR = FIXTURES / "tatoeba"


def test_hand_computed_nearest_neighbours_in_both_directions():
    xx = np.array([[1.0, 0.0], [1.0, 0.5]])
    en = np.array([[1.0, 0.1], [0.0, 1.0]])
    # cos(xx0, en0) = 0.995, cos(xx0, en1) = 0; cos(xx1, en0) = (1 + 0.05) / (1.118 * 1.005) = 0.934,
    # cos(xx1, en1) = 0.5 / 1.118 = 0.447. xx1 retrieves en0 (wrong); both English sentences find their xx pair.
    similarity = cosine_matrix(xx, en)
    assert similarity == pytest.approx(np.array([[0.995037, 0.0], [0.934488, 0.447214]]), abs=1e-6)
    xx_to_en, en_to_xx = nearest_neighbours(similarity)
    assert xx_to_en.tolist() == [0, 0] and en_to_xx.tolist() == [0, 1]
    assert retrieval_metrics(similarity) == {"accuracy": 100.0, "accuracy_xx_to_en": 50.0, "accuracy_mean": 75.0}


def test_cosine_of_a_zero_vector_is_zero_and_shapes_are_checked():
    assert cosine_matrix(np.zeros((1, 3)), np.ones((2, 3))).tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="square"):
        retrieval_metrics(np.ones((2, 3)))


def test_tatoeba_files_by_iso_code():
    task = get_task("tatoeba")
    bitext = load_bitext(task, "de", data_dir=TATOEBA_DIR)  # found as tatoeba.deu-eng.deu
    assert bitext.sentences[0] == "Ich habe Hunger." and bitext.english[0] == "I am hungry."
    assert len(bitext) == bitext.total == 5 and "tatoeba.deu-eng.deu" in bitext.source
    assert load_bitext(task, "fra", data_dir=TATOEBA_DIR).english[1] == "The cat is sleeping."  # 3-letter code
    subset = load_bitext(task, "de", data_dir=TATOEBA_DIR, max_sentences=3)
    full = load_bitext(task, "de", data_dir=TATOEBA_DIR)
    assert len(subset) == 3 and subset.total == 5
    pairs = dict(zip(full.sentences, full.english))
    assert all(pairs[s] == e for s, e in zip(subset.sentences, subset.english))  # still aligned
    assert available_languages(TATOEBA_DIR) == ["de", "fr"]
    with pytest.raises(MissingDataError, match="tatoeba.jpn-eng.jpn"):
        load_bitext(task, "ja", data_dir=TATOEBA_DIR)


def test_misaligned_gzipped_and_one_sided_files(tmp_path):
    task = get_task("tatoeba")
    with gzip.open(tmp_path / "tatoeba.ita-eng.ita.gz", "wt", encoding="utf-8") as handle:
        handle.write("Ciao.\r\nGrazie.\r\n")
    with gzip.open(tmp_path / "tatoeba.ita-eng.eng.gz", "wt", encoding="utf-8") as handle:
        handle.write("Hello.\r\nThanks.\r\n")
    assert load_bitext(task, "it", data_dir=tmp_path).english == ["Hello.", "Thanks."]
    (tmp_path / "tatoeba.spa-eng.spa").write_text("Hola.\nGracias.\n")
    (tmp_path / "tatoeba.spa-eng.eng").write_text("Hello.\n")
    with pytest.raises(DataError, match=r"tatoeba.spa-eng.spa has 2 lines but .*tatoeba.spa-eng.eng has 1"):
        load_bitext(task, "es", data_dir=tmp_path)
    (tmp_path / "tatoeba.tur-eng.tur").write_text("Merhaba.\n")
    with pytest.raises(MissingDataError, match="no English side"):
        load_bitext(task, "tr", data_dir=tmp_path)


def test_hub_rows(monkeypatch):
    import datasets

    rows = datasets.Dataset.from_dict({"source_sentence": ["Hallo.", "Danke."], "target_sentence": ["Hi.", "Thanks."],
                                       "source_lang": ["deu", "deu"], "target_lang": ["eng", "eng"]})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, config, split: calls.append((path, config, split)) or rows)
    bitext = load_bitext(get_task("tatoeba"), "de")
    assert calls == [("google/xtreme", "tatoeba.deu", "validation")]
    assert bitext.sentences == ["Hallo.", "Danke."] and bitext.english == ["Hi.", "Thanks."]


def test_identical_sides_retrieve_perfectly(tiny_model, tiny_texts, tmp_path):
    sentences = list(dict.fromkeys(t for t in tiny_texts if len(t.split()) > 4))[:12]
    (tmp_path / "tatoeba.deu-eng.deu").write_text("\n".join(sentences) + "\n")
    (tmp_path / "tatoeba.deu-eng.eng").write_text("\n".join(sentences) + "\n")
    for layer in (0, -1):
        results = run_retrieval(RetrievalConfig(model=str(tiny_model), data_dir=str(tmp_path), languages=["de"],
                                                layer=layer, quiet=True, batch_size=5))
        assert results.languages["de"].metrics == {"accuracy": 100.0, "accuracy_xx_to_en": 100.0,
                                                   "accuracy_mean": 100.0}
        assert results.fusion["method"] == "layer" and results.averages["zero_shot"] == 100.0


@pytest.mark.slow
def test_results_file_and_report(tiny_bert, tmp_path):
    out = tmp_path / "tatoeba"
    cfg = RetrievalConfig(model=str(tiny_bert), data_dir=str(TATOEBA_DIR), languages=["de", "fr", "ja"],
                          missing_languages="skip", fusion="mean", fusion_options={"layers": [1, 2]},
                          output_dir=str(out), quiet=True)
    results = run_retrieval(cfg)
    saved = Results.load(out)
    assert set(saved.languages) == {"de", "fr"} and saved.task["kind"] == "retrieval"
    assert saved.languages["de"].examples == 5 and saved.languages["de"].split == "test"
    assert saved.fusion == {"method": "mean", "layer": None, "options": {"layers": [1, 2]}}
    assert any("'ja'" in w and "skipped" in w for w in saved.warnings)
    assert saved.averages["all"] == pytest.approx((results.languages["de"].primary + results.languages["fr"].primary) / 2)
    lines = (out / "predictions" / "fr.jsonl").read_text().splitlines()
    assert len(lines) == 4 and set(json.loads(lines[0])) == {"id", "en_to_xx", "xx_to_en"}
    with pytest.raises(ConfigError, match="already holds results"):
        run_retrieval(cfg)
    report = run_cli("report", out)
    assert report.returncode == 0 and "### tatoeba" in report.stdout and "| fr |" in report.stdout


def test_representation_choices(tiny_bert, tmp_path):
    from xling.config import TrainConfig
    from xling.retrieval.embed import load_sentence_encoder
    from xling.models import save_model
    from xling.models.build import build_run_model, load_tokenizer

    raw = load_sentence_encoder(model=str(tiny_bert), progress=False)
    assert raw.representation.describe() == "last"
    with pytest.raises(ConfigError, match="trainable parameters"):
        load_sentence_encoder(model=str(tiny_bert), fusion="aif", fusion_layer=1)
    with pytest.raises(ConfigError, match="out of range"):
        load_sentence_encoder(model=str(tiny_bert), layer=9)
    with pytest.raises(ConfigError, match="not both"):
        load_sentence_encoder(model=str(tiny_bert), layer=1, fusion="last")
    # a saved run: its trained fusion is used by default, a chosen layer or parameter-free fusion on request
    torch.manual_seed(0)
    model = build_run_model(get_task("xnli"), TrainConfig(task="xnli", model=str(tiny_bert), fusion="aif",
                                                         fusion_layer=1))
    save_model(model, tmp_path / "run" / "model", load_tokenizer(str(tiny_bert)))
    trained = load_sentence_encoder(run=str(tmp_path / "run"), progress=False)
    assert trained.representation.describe() == "aif@1" and trained.reduce is not None
    vectors = trained.embed(["Maria lives in Berlin .", "Paris is big ."])
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all()
    assert load_sentence_encoder(run=str(tmp_path / "run"), layer=2).representation.describe() == "layer@2"
    with pytest.raises(ConfigError, match="trained with another fusion"):
        load_sentence_encoder(run=str(tmp_path / "run"), fusion="concat", fusion_layer=1)
    with pytest.raises(ConfigError, match="give --model"):
        load_sentence_encoder(model=str(tiny_bert), run=str(tmp_path / "run"))


@pytest.mark.slow
def test_retrieve_cli(tiny_model, tmp_path):
    out = tmp_path / "ret"
    result = run_cli("retrieve", "--model", tiny_model, "--data-dir", TATOEBA_DIR, "--languages", "all", "--layer", "1",
                     "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "| de |" in result.stdout and "| fr |" in result.stdout
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["fusion"] == "layer" and data["config"]["fusion_layer"] == 1
    bad = run_cli("retrieve", "--model", tiny_model, "--data-dir", TATOEBA_DIR, "--languages", "de",
                  "--fusion", "aif", "--fusion-layer", "1")
    assert bad.returncode == 2 and "trainable parameters" in bad.stderr and "Traceback" not in bad.stderr
    train = run_cli("train", "--task", "tatoeba", "--model", tiny_model, "--data-dir", TATOEBA_DIR,
                    "--output-dir", tmp_path / "t")
    assert train.returncode == 2 and "Traceback" not in train.stderr


def test_training_a_retrieval_task_points_to_xling_retrieve(tmp_path):
    from xling.config import TrainConfig
    from xling.errors import ConfigError
    from xling.training.run import run_training

    out = tmp_path / "run"
    cfg = TrainConfig(task="tatoeba", model="unused", output_dir=str(out))
    with pytest.raises(ConfigError, match="xling retrieve --task tatoeba"):
        run_training(cfg)
    assert not out.exists()  # refused before anything was written
