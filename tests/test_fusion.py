"""Contract test over every registered fusion method, on tiny BERT and tiny mT5 encoders."""

from __future__ import annotations

import pytest
import torch

from xling.errors import ConfigError
from xling.models import FUSIONS, Encoder, build_fusion
from xling.models.fusion import AIFFusion, MaskedBatchNorm, resolve_layer

# Options that make each method well-defined on a 3-layer encoder.
FUSION_OPTIONS = {
    "last": {},
    "aif": {"layer": 1},  # norm=batch, the paper's design
    "scalar_mix": {},
    "mean": {},
    "concat": {"layer": -2},
}
VARIANTS = [(name, opts) for name, opts in FUSION_OPTIONS.items()] + [
    ("aif", {"layer": 2, "norm": "layer"}),
    ("aif", {"layer": 2, "double": True, "reduction": 8}),
    ("aif", {"layer": 2, "gate_bias": 4.0}),
    ("mean", {"layers": [1, 3]}),
]


def test_every_registered_fusion_is_covered():
    assert set(FUSIONS.names()) == set(FUSION_OPTIONS)


@pytest.fixture(scope="module")
def encoders(tiny_bert, tiny_mt5):
    torch.manual_seed(0)
    return {"bert": Encoder.from_pretrained(str(tiny_bert)), "mt5": Encoder.from_pretrained(str(tiny_mt5))}


def _batch(vocab: int = 50):
    torch.manual_seed(1)
    ids = torch.randint(5, vocab, (3, 7))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    mask[2, 3:] = 0
    ids = ids.masked_fill(mask == 0, 0)
    return ids, mask


@pytest.mark.parametrize("arch", ["bert", "mt5"])
@pytest.mark.parametrize("name,options", VARIANTS, ids=lambda v: str(v))
def test_fusion_contract(encoders, arch, name, options):
    encoder = encoders[arch]
    options = dict(options)
    layer = options.pop("layer", None)
    fusion = build_fusion(name, encoder.hidden_size, encoder.num_layers, layer, **options)
    ids, mask = _batch()
    fusion.train()
    hidden = encoder(ids, mask)
    assert len(hidden) == encoder.num_layers + 1
    out = fusion(hidden, mask)
    assert out.shape == (3, 7, encoder.hidden_size)
    assert torch.isfinite(out).all()
    # gradients reach the fusion parameters (methods that have any) and the encoder
    out[mask.bool()].pow(2).mean().backward()
    for param in fusion.parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all()
        assert param.grad.abs().sum() > 0
    assert encoder.model.get_input_embeddings().weight.grad is not None
    encoder.zero_grad(set_to_none=True)


@pytest.mark.parametrize("arch", ["bert", "mt5"])
@pytest.mark.parametrize("name,options", VARIANTS, ids=lambda v: str(v))
def test_padding_does_not_change_a_sequence(encoders, arch, name, options):
    """A sequence alone and inside a longer, padded batch gets the same fused output (eval mode)."""
    encoder = encoders[arch].eval()
    options = dict(options)
    layer = options.pop("layer", None)
    fusion = build_fusion(name, encoder.hidden_size, encoder.num_layers, layer, **options).eval()
    ids, mask = _batch()
    with torch.no_grad():
        padded = fusion(encoder(ids, mask), mask)[2, :3]
        alone = fusion(encoder(ids[2:, :3], mask[2:, :3]), mask[2:, :3])[0]
    assert torch.allclose(padded, alone, atol=1e-5)
    encoder.train()


def test_aif_gate_in_unit_interval_and_mixes_the_two_layers(encoders):
    encoder = encoders["bert"]
    fusion = AIFFusion(encoder.hidden_size, encoder.num_layers, layer=1)
    ids, mask = _batch()
    hidden = encoder(ids, mask)
    gate = fusion.gate(hidden, mask)
    assert ((gate > 0) & (gate < 1)).all()
    out = fusion(hidden, mask)
    expected = gate * hidden[-1] + (1 - gate) * hidden[1]
    assert torch.allclose(out, expected, atol=1e-6)


def test_aif_double_variant_is_twice_the_paper_formula(encoders):
    encoder = encoders["bert"]
    torch.manual_seed(3)
    plain = AIFFusion(encoder.hidden_size, encoder.num_layers, layer=1)
    double = AIFFusion(encoder.hidden_size, encoder.num_layers, layer=1, double=True)
    double.load_state_dict(plain.state_dict())
    ids, mask = _batch()
    hidden = encoder(ids, mask)
    assert torch.allclose(double(hidden, mask), 2 * plain(hidden, mask), atol=1e-6)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_aif_gate_bias_starts_from_the_last_layer(encoders, norm):
    encoder = encoders["bert"]
    ids, mask = _batch()
    with torch.no_grad():
        hidden = encoder(ids, mask)
    torch.manual_seed(4)
    neutral = AIFFusion(encoder.hidden_size, encoder.num_layers, layer=1, norm=norm)
    torch.manual_seed(4)
    biased = AIFFusion(encoder.hidden_size, encoder.num_layers, layer=1, norm=norm, gate_bias=12.0)
    real = mask.bool()
    with torch.no_grad():  # the same weights, only the output biases differ: the gate moves from ~0.5 to ~1
        assert 0.2 < float(neutral.gate(hidden, mask)[real].mean()) < 0.8
        gate = biased.gate(hidden, mask)[real]
        assert float(gate.min()) > 0.99 and float(gate.max()) < 1.0
        assert torch.allclose(biased(hidden, mask)[real], hidden[-1][real], atol=0.05)
    assert build_fusion("aif", 16, 4, 2, gate_bias=3, norm=norm).local_branch.norm_out.bias.eq(1.5).all()


def test_aif_default_is_the_papers_batch_norm():
    fusion = build_fusion("aif", 16, 4, 2)
    assert isinstance(fusion.local_branch.norm_out, MaskedBatchNorm)
    assert fusion.local_branch.down.out_features == 4  # r = 4
    with pytest.raises(ConfigError, match="aif norm must be 'layer' or 'batch', not 'group'"):
        build_fusion("aif", 16, 4, 2, norm="group")


def test_scalar_mix_starts_as_the_mean_of_all_layers(encoders):
    encoder = encoders["bert"]
    fusion = build_fusion("scalar_mix", encoder.hidden_size, encoder.num_layers)
    ids, mask = _batch()
    hidden = encoder(ids, mask)
    assert torch.allclose(fusion(hidden, mask), torch.stack(hidden).mean(0), atol=1e-6)


def test_layer_indices():
    assert resolve_layer(8, 12) == 8
    assert resolve_layer(-2, 12) == 11  # Python indexing over the 13 hidden states
    assert resolve_layer(-12, 12) == 1
    for bad in (0, 12, 13, -1, -13):
        with pytest.raises(ConfigError, match="out of range for a model with 12 layers"):
            resolve_layer(bad, 12)
    with pytest.raises(ConfigError, match="needs --fusion-layer"):
        resolve_layer(None, 12)


def test_unknown_fusion_and_options():
    with pytest.raises(KeyError, match=r"Unknown fusion method 'aiff'. Did you mean aif"):
        build_fusion("aiff", 16, 4, 2)
    with pytest.raises(ConfigError, match="takes no fusion layer"):
        build_fusion("scalar_mix", 16, 4, 2)
    with pytest.raises(ConfigError, match=r"has no option\(s\) \['ratio'\]"):
        build_fusion("aif", 16, 4, 2, ratio=3)
