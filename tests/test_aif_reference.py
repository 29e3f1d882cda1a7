"""The AIF gate against a reference written straight from the formulas; padding; batches of one; old specs."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from tests.conftest import run_cli
from xling.models import Encoder, build_model, load_model, save_model
from xling.models.fusion import AIFFusion, MaskedBatchNorm, build_fusion
from xling.models.model import ModelSpec

D, LAYERS, K = 16, 3, 1
EPS = 1e-5  # nn.BatchNorm1d's and nn.LayerNorm's default


# ---- the reference: plain tensor arithmetic, one sequence and one token at a time where it matters ----

def ref_norm(rows: torch.Tensor, p: dict, kind: str, train: bool) -> torch.Tensor:
    """rows (N, c): batch norm over the N rows (biased variance) or running statistics; or layer norm per row."""
    if kind == "layer":
        mean, var = rows.mean(1, keepdim=True), rows.var(1, unbiased=False, keepdim=True)
    elif train:
        mean, var = rows.mean(0), rows.var(0, unbiased=False)
    else:
        mean, var = p["running_mean"], p["running_var"]
    return (rows - mean) / torch.sqrt(var + EPS) * p["weight"] + p["bias"]


def ref_branch(rows: torch.Tensor, p: dict, kind: str, train: bool) -> torch.Tensor:
    """BN(W2 ReLU(BN(W1 a))) for each row a of ``rows``."""
    h = rows @ p["down"]["weight"].T + p["down"]["bias"]
    h = torch.relu(ref_norm(h, p["norm_inner"], kind, train))
    h = h @ p["up"]["weight"].T + p["up"]["bias"]
    return ref_norm(h, p["norm_out"], kind, train)


def ref_aif(x: torch.Tensor, y: torch.Tensor, lengths: list[int], params: dict, kind: str, train: bool):
    """Z = M*X + (1-M)*Y on the real tokens (the first ``lengths[b]`` of sequence b), concatenated: (N, d)."""
    a = x + y
    real = torch.cat([a[b, :n] for b, n in enumerate(lengths)])                      # (N, d): real tokens only
    context = torch.stack([a[b, :n].mean(0) for b, n in enumerate(lengths)])         # (B, d): mean over real tokens
    local = ref_branch(real, params["local"], kind, train)
    glob = ref_branch(context, params["global"], kind, train)
    glob_per_token = torch.cat([glob[b].expand(n, -1) for b, n in enumerate(lengths)])
    m = torch.sigmoid(local + glob_per_token)
    xs = torch.cat([x[b, :n] for b, n in enumerate(lengths)])
    ys = torch.cat([y[b, :n] for b, n in enumerate(lengths)])
    return m * xs + (1 - m) * ys


def copy_params(fusion: AIFFusion) -> dict:
    """The module's weights as plain tensors (cloned: the reference shares nothing with the module)."""
    def norm(module) -> dict:
        inner = module.norm if isinstance(module, MaskedBatchNorm) else module
        out = {"weight": inner.weight.detach().clone(), "bias": inner.bias.detach().clone()}
        if isinstance(module, MaskedBatchNorm):
            out.update(running_mean=inner.running_mean.clone(), running_var=inner.running_var.clone())
        return out

    def branch(b) -> dict:
        return {"down": {"weight": b.down.weight.detach().clone(), "bias": b.down.bias.detach().clone()},
                "up": {"weight": b.up.weight.detach().clone(), "bias": b.up.bias.detach().clone()},
                "norm_inner": norm(b.norm_inner), "norm_out": norm(b.norm_out)}

    return {"local": branch(fusion.local_branch), "global": branch(fusion.global_branch)}


def randomised_aif(norm: str, seed: int = 0) -> AIFFusion:
    """An AIF module whose norm weights, biases and running statistics are all random (not the identity)."""
    torch.manual_seed(seed)
    fusion = build_fusion("aif", D, LAYERS, K, norm=norm)
    with torch.no_grad():
        for name, tensor in fusion.state_dict().items():
            if name.endswith(("norm_inner.weight", "norm_out.weight", "norm.weight", "running_var")):
                tensor.copy_(torch.rand_like(tensor) + 0.5)
            elif name.endswith(("bias", "running_mean")) and "norm" in name:
                tensor.copy_(torch.randn_like(tensor))
    return fusion


def hidden_batch(lengths: list[int], width: int | None = None, seed: int = 1, pad_value: float | None = None):
    """Random hidden states (L+1 tensors of (B, T, d)) and the mask for ``lengths``; padding holds garbage."""
    width = width or max(lengths)
    generator = torch.Generator().manual_seed(seed)
    hidden = [torch.randn(len(lengths), width, D, generator=generator) * 2 + 1 for _ in range(LAYERS + 1)]
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
    if pad_value is not None:
        for h in hidden:
            h[mask == 0] = pad_value
    return hidden, mask


def real_rows(z: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    return torch.cat([z[b, :n] for b, n in enumerate(lengths)])


# ---- the module equals the reference ----

@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_aif_matches_the_reference(norm, train):
    lengths = [6, 2, 4, 1, 5]
    hidden, mask = hidden_batch(lengths, width=8)
    fusion = randomised_aif(norm).train(train)
    params = copy_params(fusion)
    with torch.no_grad():
        out = fusion(hidden, mask)
    expected = ref_aif(hidden[-1], hidden[K], lengths, params, norm, train)
    assert torch.allclose(real_rows(out, lengths), expected, atol=1e-5)


def test_batch_norm_running_statistics_come_from_real_tokens_only():
    lengths = [6, 2, 4]
    hidden, mask = hidden_batch(lengths, width=9)
    fusion = randomised_aif("batch")
    before = copy_params(fusion)
    with torch.no_grad():
        fusion.train()(hidden, mask)
    a = real_rows(hidden[-1] + hidden[K], lengths)
    down = before["local"]["down"]
    h = a @ down["weight"].T + down["bias"]   # what the local branch's first norm sees: real tokens only
    momentum = fusion.local_branch.norm_inner.norm.momentum
    inner = fusion.local_branch.norm_inner.norm
    expected_mean = (1 - momentum) * before["local"]["norm_inner"]["running_mean"] + momentum * h.mean(0)
    expected_var = (1 - momentum) * before["local"]["norm_inner"]["running_var"] + momentum * h.var(0, unbiased=True)
    assert torch.allclose(inner.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(inner.running_var, expected_var, atol=1e-4)


# ---- padding never changes the real tokens' outputs ----

@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_padding_never_changes_real_tokens(norm, train):
    """Other padding values, longer padding and an extra all-padding sequence: the same outputs and statistics."""
    lengths = [5, 2, 3]
    fusion = randomised_aif(norm).train(train)
    hidden, mask = hidden_batch(lengths, width=5, pad_value=0.0)
    variants = [hidden_batch(lengths, width=5, pad_value=7.0),         # other values on the padded positions
                hidden_batch(lengths, width=11, pad_value=-3.0),       # longer padding
                hidden_batch(lengths + [0], width=8, pad_value=5.0)]   # and a sequence with no real token
    reference = copy.deepcopy(fusion)
    with torch.no_grad():
        expected = real_rows(reference(hidden, mask), lengths)
    for other_hidden, other_mask in variants:
        # the same real values, whatever the width of the batch
        for h, base in zip(other_hidden, hidden):
            h[: len(lengths), :5][mask.bool()] = base[mask.bool()]
        module = copy.deepcopy(fusion)
        with torch.no_grad():
            out = module(other_hidden, other_mask)
        assert torch.allclose(real_rows(out, lengths), expected, atol=1e-5)
        for (name, value), ref_value in zip(module.state_dict().items(), reference.state_dict().values()):
            assert torch.allclose(value.float(), ref_value.float(), atol=1e-6), name


def test_global_context_is_the_mean_over_real_tokens():
    """Every sequence's gate equals the gate it gets alone and unpadded (eval: no batch statistics)."""
    lengths = [4, 2, 6]
    hidden, mask = hidden_batch(lengths, pad_value=9.0)
    fusion = randomised_aif("batch").eval()
    with torch.no_grad():
        gates = fusion.gate(hidden, mask)
        for b, n in enumerate(lengths):
            alone = fusion.gate([h[b : b + 1, :n] for h in hidden], mask[b : b + 1, :n])
            assert torch.allclose(gates[b, :n], alone[0], atol=1e-6)


# ---- a batch of one ----

def test_masked_batch_norm_with_one_row_uses_running_statistics():
    norm = MaskedBatchNorm(4)
    with torch.no_grad():
        norm.norm.running_mean.copy_(torch.tensor([1.0, -1.0, 0.5, 2.0]))
        norm.norm.running_var.copy_(torch.tensor([4.0, 1.0, 0.25, 9.0]))
    before = copy.deepcopy(norm.state_dict())
    row = torch.randn(1, 4)
    trained = norm.train()(row)
    assert torch.allclose(trained, norm.eval()(row))
    expected = (row - before["norm.running_mean"]) / torch.sqrt(before["norm.running_var"] + EPS)
    assert torch.allclose(trained, expected, atol=1e-6)
    for key, value in norm.state_dict().items():
        assert torch.equal(value, before[key]), key  # not updated (num_batches_tracked neither)
    # one real token among padding (B, T, d) and no real token at all are handled the same way
    tokens = torch.randn(2, 3, 4)
    mask = torch.tensor([[0, 1, 0], [0, 0, 0]])
    out = norm.train()(tokens, mask)
    assert torch.allclose(out[0, 1], norm.eval()(tokens[0, 1:2])[0]) and out[mask == 0].eq(0).all()
    assert norm.train()(tokens, torch.zeros(2, 3)).eq(0).all()


@pytest.mark.parametrize("lengths", [[5], [1]], ids=["one-sequence", "one-token"])
def test_aif_batch_norm_trains_on_a_batch_of_one(lengths):
    hidden, mask = hidden_batch(lengths)
    for h in hidden:
        h.requires_grad_(True)
    fusion = randomised_aif("batch").train()
    out = fusion(hidden, mask)
    assert torch.isfinite(out).all()
    out.pow(2).mean().backward()
    for name, param in fusion.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_batch_norm_cancels_the_bias_before_it_and_trains_the_rest():
    """In training mode a bias right before a batch norm is removed with the batch mean: gradient 0 (float64)."""
    hidden, mask = hidden_batch([5, 3, 4, 2])
    hidden = [h.double() for h in hidden]
    fusion = randomised_aif("batch").double().train()
    fusion(hidden, mask).pow(2).mean().backward()
    for branch in (fusion.local_branch, fusion.global_branch):
        for layer in (branch.down, branch.up):
            assert layer.bias.grad.abs().max() < 1e-12
            assert layer.weight.grad.abs().max() > 1e-6
        assert branch.norm_out.bias.grad.abs().max() > 1e-6


def test_training_run_whose_last_batch_has_one_example(tiny_bert, sample_dir, tmp_path):
    """9 training sentences in batches of 4: the third step has one example (nn.BatchNorm1d would raise)."""
    out = tmp_path / "run"
    result = run_cli("train", "--task", "panx", "--model", tiny_bert, "--data-dir", sample_dir["panx"],
                     "--output-dir", out, "--languages", "en,de", "--fusion", "aif", "--fusion-layer", "1",
                     "--max-train-examples", "9", "--batch-size", "4", "--epochs", "1", "--max-seq-length", "48",
                     "--max-eval-examples", "8", "--quiet", "--seed", "3")
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["stages"][0]["steps"] == 3
    assert all(record["train_loss"] > 0 for record in results["stages"][0]["history"])
    spec = json.loads((out / "model" / "xling_model.json").read_text())
    assert spec["fusion_options"]["norm"] == "batch"  # the default, recorded
    assert isinstance(load_model(out / "model").fusion.local_branch.norm_out, MaskedBatchNorm)


# ---- what layer norm cannot do: move a whole token ----

def per_token_mean_logit_spread(norm: str, hidden, mask) -> float:
    """Std over real tokens of the channel mean of the gate logits, for a fresh module in training mode."""
    torch.manual_seed(0)
    fusion = build_fusion("aif", hidden[0].shape[-1], len(hidden) - 1, K, norm=norm).train()
    with torch.no_grad():
        logits = fusion.gate_logits(hidden, mask)
    return float(logits.mean(-1)[mask.bool()].std())


def test_layer_norm_fixes_each_tokens_mean_logit_and_batch_norm_does_not(tiny_bert):
    encoder = Encoder.from_pretrained(str(tiny_bert)).eval()
    torch.manual_seed(2)
    ids = torch.randint(5, 700, (4, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:], mask[3, 2:] = 0, 0
    with torch.no_grad():
        hidden = encoder(ids, mask)
    layer, batch = per_token_mean_logit_spread("layer", hidden, mask), per_token_mean_logit_spread("batch", hidden, mask)
    assert layer < 1e-5  # float error: every token's logits have channel mean 0 (the LayerNorm biases)
    assert batch > 1e3 * layer and batch > 1e-2


# ---- gate_bias and saved models ----

def test_gate_bias_sets_the_batch_norm_bias():
    fusion = build_fusion("aif", D, LAYERS, K, gate_bias=3.0)
    for branch in (fusion.local_branch, fusion.global_branch):
        assert isinstance(branch.norm_out, MaskedBatchNorm) and branch.norm_out.norm.bias.eq(1.5).all()
        assert branch.norm_inner.norm.bias.eq(0).all()


def test_specs_record_the_resolved_options_and_old_specs_keep_layer_norm(tiny_bert, tmp_path):
    spec = ModelSpec(encoder=str(tiny_bert), fusion="aif", fusion_layer=1)
    model = build_model(spec)
    assert model.spec.fusion_options == {"reduction": 4, "norm": "batch", "double": False, "gate_bias": 0.0}
    assert spec.fusion_options == {}  # the caller's spec is not changed
    saved = save_model(model, tmp_path / "new")
    assert json.loads((saved / "xling_model.json").read_text())["fusion_options"]["norm"] == "batch"
    assert isinstance(load_model(saved).fusion.global_branch.norm_out, MaskedBatchNorm)

    # a model saved with the old default: layer norm, and no "norm" in its spec
    torch.manual_seed(5)
    old = build_model(ModelSpec(encoder=str(tiny_bert), fusion="aif", fusion_layer=1,
                                fusion_options={"norm": "layer"}))
    with torch.no_grad():
        old.fusion.local_branch.norm_out.bias.normal_()
    directory = save_model(old, tmp_path / "old")
    data = json.loads((directory / "xling_model.json").read_text())
    data["fusion_options"] = {}
    (directory / "xling_model.json").write_text(json.dumps(data))
    loaded = load_model(directory).eval()
    assert loaded.spec.fusion_options["norm"] == "layer"
    assert isinstance(loaded.fusion.local_branch.norm_out, torch.nn.LayerNorm)
    hidden = [torch.randn(2, 3, loaded.encoder.hidden_size) for _ in range(loaded.encoder.num_layers + 1)]
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    with torch.no_grad():
        assert torch.allclose(loaded.fusion(hidden, mask), old.eval().fusion(hidden, mask), atol=1e-6)
    assert ModelSpec.from_dict({"encoder": "m", "fusion": "aif", "fusion_options": {"norm": "batch"}}).fusion_options \
        == {"norm": "batch"}
    assert ModelSpec.from_dict({"encoder": "m", "fusion": "mean"}).fusion_options == {}
