"""Image-text alignment: InfoNCE, the head, feature files, caption reading, retrieval scoring, end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from tests.conftest import FIXTURES, run_cli
from xling.config import TrainConfig
from xling.errors import ConfigError, DataError
from xling.kinds import get_kind
from xling.kinds.image_text import recall_at_k
from xling.models.contrastive_head import ImageTextHead, info_nce
from xling.tasks import get_task
from xling.data.loading import load_split
from xling.data.images import load_image_features
from xling.kinds.image_text import ImageTextExample, read_captions

MULTI30K = FIXTURES / "multi30k"
IMAGE_IDS = [f"{1000 + i}.jpg" for i in range(12)]  # the fixture's image names (train 0-5, val 6-8, test 9-11)


def write_npy_features(directory, ids, dim=8, seed=0):
    vectors = np.random.default_rng(seed).normal(size=(len(ids), dim)).astype(np.float32)
    np.save(directory / "features.npy", vectors)
    (directory / "features.ids.txt").write_text("".join(f"{i}\n" for i in ids))
    return directory / "features.npy", vectors


# ---------------------------------------------------------------- loss and head


def test_info_nce_matches_a_hand_computed_2x2_case():
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    images = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    # logits = text @ images.T = [[1, 0.6], [0, 0.8]]; -log softmax of the diagonal = log(1 + e^-(margin)):
    # captions: log(1+e^-0.4) = 0.513015, log(1+e^-0.8) = 0.371101 -> mean 0.442058
    # images (columns): log(1+e^-1) = 0.313262, log(1+e^-0.2) = 0.598139 -> mean 0.455700
    assert float(info_nce(text, images, 1.0)) == pytest.approx((0.442058 + 0.455700) / 2, abs=1e-5)
    # a scale of 2 doubles every margin
    expected = (math.log(1 + math.exp(-0.8)) + math.log(1 + math.exp(-1.6)) + math.log(1 + math.exp(-2))
                + math.log(1 + math.exp(-0.4))) / 4
    assert float(info_nce(text, images, 2.0)) == pytest.approx(expected, abs=1e-5)


def test_captions_of_one_image_are_all_positives():
    eye = torch.eye(2)
    # logits = I; without labels each row's target is its diagonal: log(1+e^-1) = 0.313262
    assert float(info_nce(eye, eye, 1.0)) == pytest.approx(0.313262, abs=1e-5)
    # both captions label the same image: targets spread 1/2, 1/2 -> (log(1+e^-1) + log(1+e^1)) / 2 = 0.813262
    assert float(info_nce(eye, eye, 1.0, torch.tensor([7, 7]))) == pytest.approx(0.813262, abs=1e-5)


def test_head_returns_normalised_text_and_loss_only_with_labels():
    torch.manual_seed(0)
    head = ImageTextHead(hidden_size=6, image_dim=4, dropout=0.0)
    features, mask = torch.randn(3, 5, 6), torch.ones(3, 5, dtype=torch.long)
    images = torch.randn(3, 4)
    out = head(features, mask, image_features=images)
    assert out.loss is None and out.logits.shape == (3, 4)
    assert torch.allclose(out.logits.norm(dim=-1), torch.ones(3), atol=1e-6)
    out = head(features, mask, labels=torch.tensor([0, 1, 2]), image_features=images)
    out.loss.backward()
    assert head.logit_scale.grad is not None and head.project.weight.grad is not None
    assert float(head.scale().detach()) == pytest.approx(1 / 0.07, rel=1e-5)


def test_a_few_steps_align_captions_with_their_images():
    torch.manual_seed(0)
    head = ImageTextHead(hidden_size=8, image_dim=4, dropout=0.0)
    features, mask, images = torch.randn(4, 3, 8), torch.ones(4, 3, dtype=torch.long), torch.randn(4, 4)
    labels = torch.arange(4)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    first = float(head(features, mask, labels=labels, image_features=images).loss.detach())
    for _ in range(60):
        optimizer.zero_grad()
        head(features, mask, labels=labels, image_features=images).loss.backward()
        optimizer.step()
    with torch.no_grad():
        text = head(features, mask).logits
        ranked = (text @ torch.nn.functional.normalize(images, dim=-1).T).argmax(dim=1)
    assert float(head(features, mask, labels=labels, image_features=images).loss.detach()) < first / 4
    assert ranked.tolist() == list(range(4))


# ---------------------------------------------------------------- feature files and captions


def test_npy_features_join_by_exact_id_or_file_stem(tmp_path):
    path, vectors = write_npy_features(tmp_path, ["flickr/1000.jpg", "1001.jpg", "COCO_1.jpg#5"])
    store = load_image_features(path)
    assert store.dim == 8 and store.ids[0] == "flickr/1000.jpg"
    got = store.lookup(["1001.jpg", "1000", "1000.jpg", "COCO_1.jpg#9", "flickr/1000.jpg"])
    assert np.array_equal(got, vectors[[1, 0, 0, 2, 0]])
    with pytest.raises(DataError, match=r"2 of 3 captions have no vector .*\['9.jpg', '1002'\]"):
        store.lookup(["1000.jpg", "9.jpg", "1002"])


def test_npy_without_ids_duplicates_and_unknown_formats_fail(tmp_path):
    np.save(tmp_path / "lonely.npy", np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(DataError, match=r"lonely.ids.txt"):
        load_image_features(tmp_path / "lonely.npy")
    write_npy_features(tmp_path, ["a.jpg", "a.jpg"])
    with pytest.raises(DataError, match="appears twice"):
        load_image_features(tmp_path / "features.npy")
    (tmp_path / "f.csv").write_text("x")
    with pytest.raises(ConfigError, match="unsupported image feature file"):
        load_image_features(tmp_path / "f.csv")


def test_safetensors_features_with_string_or_integer_ids(tmp_path):
    from safetensors.numpy import save_file

    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_file({"features": vectors}, str(tmp_path / "a.safetensors"), metadata={"ids": json.dumps(["x", "y", "z"])})
    store = load_image_features(tmp_path / "a.safetensors")
    assert store.ids == ["x", "y", "z"] and np.array_equal(store.lookup(["z"]), vectors[[2]])
    save_file({"features": vectors, "ids": np.array([10, 11, 12])}, str(tmp_path / "b.safetensors"))
    assert load_image_features(tmp_path / "b.safetensors").ids == ["10", "11", "12"]
    save_file({"features": vectors}, str(tmp_path / "c.safetensors"))
    with pytest.raises(DataError, match="no image ids"):
        load_image_features(tmp_path / "c.safetensors")


def test_parquet_features_find_id_and_vector_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"image_id": ["1000.jpg", "1001.jpg"], "clip": [[0.5, 1.0, 2.0], [3.0, 4.0, 5.0]]})
    pq.write_table(table, tmp_path / "f.parquet")
    store = load_image_features(tmp_path / "f.parquet")
    assert store.dim == 3 and np.array_equal(store.lookup(["1001"]), np.array([[3.0, 4.0, 5.0]], dtype=np.float32))
    pq.write_table(pa.table({"name": ["a"], "v": [[1.0]]}), tmp_path / "g.parquet")
    with pytest.raises(DataError, match="need an id column"):
        load_image_features(tmp_path / "g.parquet")


def test_captions_are_line_aligned_with_image_names(tmp_path):
    (tmp_path / "c.txt").write_text("A dog runs .\nTwo men talk .\n")
    (tmp_path / "ids.txt").write_text("1.jpg\n2.jpg\n")
    examples, labelled = read_captions(tmp_path / "c.txt", tmp_path / "ids.txt")
    assert labelled and [(e.text, e.image_id) for e in examples] == [("A dog runs .", "1.jpg"), ("Two men talk .", "2.jpg")]
    (tmp_path / "short.txt").write_text("1.jpg\n")
    with pytest.raises(DataError, match="2 captions but .*short.txt has 1 image names"):
        read_captions(tmp_path / "c.txt", tmp_path / "short.txt")
    (tmp_path / "tab.txt").write_text("7.jpg\tA cat sleeps .\n8.jpg\tA bird sings .\n")
    examples, labelled = read_captions(tmp_path / "tab.txt")
    assert labelled and examples[1].image_id == "8.jpg" and examples[1].text == "A bird sings ."
    examples, labelled = read_captions(tmp_path / "c.txt")
    assert not labelled and examples[0].image_id is None


def test_multi30k_layout_dev_is_val_and_test_is_test_2016():
    task = get_task("multi30k")
    dev = load_split(task, "de", "dev", data_dir=MULTI30K)
    assert dev.labelled and [e.image_id for e in dev.examples] == IMAGE_IDS[6:9]
    assert dev.examples[0].text == "Carmen Ruiz singt auf einer Bühne ."
    test = load_split(task, "en", "test", data_dir=MULTI30K / "task1")
    assert [e.image_id for e in test.examples] == IMAGE_IDS[9:]


# ---------------------------------------------------------------- retrieval scoring


def test_recall_at_k_by_hand():
    rankings = [["a", "b"], ["a", "b"], ["c", "a", "b", "d", "e", "b2"]]
    # gold ranks: a -> 1st, b -> 2nd, b2 -> 6th: recall@1 1/3, recall@5 2/3, recall@10 3/3
    assert recall_at_k(rankings, ["a", "b", "b2"]) == pytest.approx(
        {"recall@1": 100 / 3, "recall@5": 200 / 3, "recall@10": 100.0})


def test_decode_ranks_the_splits_distinct_images():
    task, kind = get_task("multi30k"), get_kind("image_text")
    images = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], dtype=np.float32)
    examples = [ImageTextExample("x", "i0", "1", images[0]), ImageTextExample("y", "i1", "2", images[1]),
                ImageTextExample("z", "i2", "3", images[2]), ImageTextExample("w", "i0", "4", images[0])]
    outputs = [np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([0.6, 0.8]), np.array([1.0, 0.0])]
    assert kind.decode(task, outputs, examples) == [["i1", "i2", "i0"], ["i1", "i2", "i0"], ["i2", "i1", "i0"],
                                                    ["i0", "i2", "i1"]]
    metrics = kind.score(task, kind.decode(task, outputs, examples), kind.references(task, examples), "en")
    assert metrics["recall@1"] == pytest.approx(75.0)


def test_without_a_feature_file_training_stops_with_advice(tiny_bert, tmp_path):
    from xling.training.run import run_training

    cfg = TrainConfig(task="multi30k", model=str(tiny_bert), data_dir=str(MULTI30K), languages=["en", "de"],
                      output_dir=str(tmp_path / "run"), epochs=1, quiet=True)
    with pytest.raises(ConfigError, match="--image-features FILE"):
        run_training(cfg)


# ---------------------------------------------------------------- end to end


def test_train_and_score_caption_to_image_retrieval(tiny_bert, tmp_path):
    from xling.training.run import run_training

    path, _ = write_npy_features(tmp_path, [f"flickr30k-images/{i}" for i in IMAGE_IDS], dim=16)
    cfg = TrainConfig(task="multi30k", model=str(tiny_bert), data_dir=str(MULTI30K), image_features=str(path),
                      languages=["en", "de"], train_languages=["en", "de"], output_dir=str(tmp_path / "run"),
                      epochs=2, batch_size=4, learning_rate=1e-3, head_learning_rate=1e-2, quiet=True)
    results = run_training(cfg)
    assert results.task["primary_metric"] == "recall@1"
    for lang in ("en", "de"):
        entry = results.languages[lang]
        assert entry.split == "test" and entry.examples == 3
        assert set(entry.metrics) == {"recall@1", "recall@5", "recall@10"}
        assert entry.metrics["recall@5"] == 100.0  # three candidate images
    stage = results.stages[0]
    assert stage["language"] == "en+de" and stage["examples"] == 12 and stage["selection"]["examples"] == 6
    record = json.loads((tmp_path / "run" / "predictions" / "de.jsonl").read_text().splitlines()[0])
    assert record["gold"] == "1009.jpg" and sorted(record["prediction"]) == ["1009.jpg", "1010.jpg", "1011.jpg"]


@pytest.mark.slow
def test_pipeline_with_a_multimodal_intermediate_stage(tiny_bert, sample_dir, tmp_path):
    path, _ = write_npy_features(tmp_path, IMAGE_IDS, dim=16)
    out = tmp_path / "mm"
    result = run_cli("pipeline", "--model", tiny_bert, "--intermediate", "multi30k", "--target", "pawsx",
                     "--task-option", f"multi30k:data_dir={MULTI30K}", "--task-option", f"multi30k:image_features={path}",
                     "--task-option", "multi30k:head_learning_rate=0.01", "--task-option",
                     f"pawsx:data_dir={sample_dir['pawsx']}", "--task-option", "pawsx:max_train_examples=24",
                     "--languages", "en,de", "--max-eval-examples", "10", "--epochs", "1", "--batch-size", "4",
                     "--learning-rate", "1e-3", "--output-dir", out, "--quiet", "--no-save-model")
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "results.json").read_text())
    first, target = data["stages"]
    assert first["task"] == "multi30k" and first["selection"]["metric"] == "image_recall"
    assert first["config"]["image_features"] == str(path) and first["steps"] == 2
    assert target["task"] == "pawsx" and data["task"]["name"] == "pawsx" and set(data["languages"]) == {"en", "de"}
    assert data["config"]["intermediate"] == f"multi30k{{head_learning_rate=0.01,image_features={path}}}"


def test_multi30k_named_npy_finds_its_split_list(tmp_path):
    """Multi30K's own files: ``SPLIT-resnet50-avgpool.npy`` (float16) beside ``SPLIT.images.txt``."""
    vectors = np.arange(6, dtype=np.float16).reshape(2, 3)
    np.save(tmp_path / "test_2016_flickr-resnet50-avgpool.npy", vectors)
    with pytest.raises(DataError, match=r"test_2016_flickr-resnet50-avgpool.ids.txt or test_2016_flickr.images.txt"):
        load_image_features(tmp_path / "test_2016_flickr-resnet50-avgpool.npy")
    (tmp_path / "test_2016_flickr.images.txt").write_text("10.jpg\n11.jpg\n")
    store = load_image_features(tmp_path / "test_2016_flickr-resnet50-avgpool.npy")
    assert store.ids == ["10.jpg", "11.jpg"] and store.vectors.dtype == np.float32
    assert np.array_equal(store.lookup(["11.jpg"]), vectors[[1]].astype(np.float32))
