"""Layer analysis: linear CKA properties, parallel/non-parallel cosines, the fusion-layer heuristic, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import FIXTURES, run_cli
from xling.retrieval.analysis import LayerAnalysis, analyze_layers, best_fusion_layer, linear_cka, parallel_cosines
from xling.retrieval.tatoeba import Bitext


def test_cka_by_hand_in_one_dimension():
    # centred x = (-1, 0, 1), y = (0, -1, 1): ||y'x||^2 = 1, ||x'x|| = ||y'y|| = 2 -> 1/4 (= squared correlation)
    assert linear_cka(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [0.0], [2.0]])) == pytest.approx(0.25)


def test_cka_is_one_for_itself_and_invariant_to_rotation_and_scale():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    y = x @ rng.normal(size=(8, 6)) + 0.5 * rng.normal(size=(50, 6))
    assert linear_cka(x, x) == pytest.approx(1.0)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    base = linear_cka(x, y)
    assert 0.0 < base < 1.0
    assert linear_cka(x @ q, y) == pytest.approx(base)
    assert linear_cka(3.7 * x, 0.2 * y) == pytest.approx(base)
    assert linear_cka(x + 5.0, y) == pytest.approx(base)  # centring removes offsets
    assert linear_cka(y, x) == pytest.approx(base)
    with pytest.raises(ValueError, match="same n"):
        linear_cka(x, y[:10])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(np.ones((4, 2)), x[:4])


def test_parallel_against_non_parallel_cosines():
    similarity = np.array([[1.0, 0.5], [0.2, 0.8]])
    assert parallel_cosines(similarity) == pytest.approx((0.9, 0.35))


def test_fusion_layer_heuristic_skips_the_embeddings_and_the_last_layer():
    assert best_fusion_layer([50.0, 10.0, 30.0, 30.0, 90.0]) == 2  # argmax over layers 1..3, first on ties
    analysis = LayerAnalysis("m", 4, {"de": 3, "ja": 3})
    analysis.retrieval_en_to_xx = {"de": [0, 10, 60, 20, 0], "ja": [0, 90, 10, 10, 0]}
    analysis.retrieval_xx_to_en = {"de": [0, 10, 60, 20, 0], "ja": [0, 90, 10, 10, 0]}
    from xling.retrieval.analysis import suggest_fusion_layers

    suggestion = suggest_fusion_layers(analysis)
    assert suggestion["all"]["layer"] == 1  # mean curve 0, 50, 35, 15, 0
    assert suggestion["tasks"]["xnli"]["layer"] == 2 and suggestion["tasks"]["xnli"]["languages"] == ["de"]
    assert suggestion["tasks"]["pawsx"]["layer"] == 1 and suggestion["tasks"]["pawsx"]["languages"] == ["de", "ja"]
    assert "heuristic" in suggestion["heuristic"]


def test_identical_sentences_align_perfectly_at_every_layer(tiny_bert, tiny_texts):
    from xling.retrieval.embed import load_sentence_encoder

    sentences = list(dict.fromkeys(t for t in tiny_texts if len(t.split()) > 4))[:8]
    encoder = load_sentence_encoder(model=str(tiny_bert), progress=False)
    analysis = analyze_layers(encoder, {"de": Bitext("de", sentences, sentences, "mem", 8)})
    assert len(analysis.cka["de"]) == encoder.num_layers + 1
    assert analysis.retrieval("de") == [100.0] * (encoder.num_layers + 1)
    assert analysis.cka["de"] == pytest.approx([1.0] * (encoder.num_layers + 1))
    assert analysis.cosine_parallel["de"] == pytest.approx([1.0] * (encoder.num_layers + 1))
    assert all(gap > 0 for gap in analysis.cosine_gap("de"))


@pytest.mark.slow
def test_analyze_layers_cli_writes_json_and_plots(tiny_model, tmp_path):
    out = tmp_path / "layers"
    result = run_cli("analyze", "layers", "--model", tiny_model, "--data-dir", FIXTURES / "tatoeba",
                     "--languages", "de,fr", "--max-sentences", "4", "--output", out, "--quiet")
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "layers.json").read_text())
    assert data["schema"] == "xling.layers/1" and data["layers"] == [0, 1, 2, 3]
    assert data["examples"] == {"de": 4, "fr": 4}
    for measure in ("retrieval_en_to_xx", "retrieval_xx_to_en", "cosine_parallel", "cosine_non_parallel", "cka"):
        assert set(data[measure]) == {"de", "fr"} and all(len(v) == 4 for v in data[measure].values())
        assert data["means"][measure] == pytest.approx(np.mean([data[measure]["de"], data[measure]["fr"]], axis=0))
    assert data["suggested_fusion_layer"]["all"]["layer"] in (1, 2)
    assert data["suggested_fusion_layer"]["tasks"]["xnli"]["languages"] == ["de", "fr"]
    for name in ("retrieval", "cosine_gap", "cka"):
        assert (out / f"layers_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "suggested fusion layer" in result.stdout
