"""Precomputed image feature vectors for image-text tasks (Multi30K and the like), read from a file.

xling does not compute image features. A feature file holds one row per image
and an id per row (see ``docs/pipelines.md`` for producing one with CLIP):

- ``features.npy`` (N, D) with ``features.ids.txt`` beside it (one id per line, row-aligned), or, named as
  Multi30K's feature files are (``SPLIT-resnet50-avgpool.npy``), ``SPLIT.images.txt`` or ``SPLIT.txt``;
- ``features.safetensors`` with a ``features`` (N, D) tensor and the ids either as JSON in the
  file's metadata key ``ids`` or as an integer ``ids`` tensor;
- ``features.parquet`` with an id column (``id``, ``image_id``, ``image``, ``file`` or ``filename``)
  and a vector column (``features``, ``embedding``, ``vector``, or the only list column).

Caption ids are matched to feature ids exactly, or else by file name without folder, extension and
``#fragment`` (``flickr30k-images/1000092795.jpg`` matches ``1000092795.jpg`` and ``1000092795``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xling.data.files import read_lines, strip_trailing_blank
from xling.errors import ConfigError, DataError, MissingDataError
from xling.tasks.task import Task

ID_COLUMNS = ("id", "image_id", "image", "file", "filename")
VECTOR_COLUMNS = ("features", "embedding", "embeddings", "vector")


def image_key(image_id: str) -> str:
    """``folder/1000092795.jpg#3`` -> ``1000092795`` (the fallback join key)."""
    name = re.split(r"[\\/]", image_id.strip())[-1].split("#", 1)[0]
    return name.rsplit(".", 1)[0] if "." in name else name


@dataclass
class ImageFeatures:
    """Row-aligned image ids and feature vectors (float32) read from one file."""

    path: Path
    ids: list[str]
    vectors: np.ndarray
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2:
            raise DataError(f"{self.path}: image features must be a 2-D (images, dim) array, "
                            f"got shape {self.vectors.shape}")
        if len(self.ids) != len(self.vectors):
            raise DataError(f"{self.path}: {len(self.ids)} ids for {len(self.vectors)} feature rows")
        if not np.isfinite(self.vectors).all():
            raise DataError(f"{self.path}: image features contain NaN or infinite values")
        keys: dict[str, list[int]] = {}
        for row, image in enumerate(self.ids):
            if image in self._index:
                raise DataError(f"{self.path}: image id {image!r} appears twice (rows {self._index[image]} and {row})")
            self._index[image] = row
            keys.setdefault(image_key(image), []).append(row)
        for key, rows in keys.items():
            if len(rows) == 1:
                self._index.setdefault(key, rows[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def lookup(self, image_ids: Sequence[str | None], what: str = "captions") -> np.ndarray:
        """(len(image_ids), dim) vectors; fails naming the ids that have no row."""
        rows, missing = [], []
        for image in image_ids:
            row = None if image is None else self._index.get(image, self._index.get(image_key(image)))
            if row is None:
                missing.append(image)
            rows.append(row or 0)
        if missing:
            raise DataError(f"{len(missing)} of {len(image_ids)} {what} have no vector in {self.path} "
                            f"(first: {missing[:3]}); the file holds {len(self.ids)} images "
                            f"(first ids: {self.ids[:3]})")
        return self.vectors[rows]


def load_image_features(path: str | Path) -> ImageFeatures:
    """Read a feature file (cached while the file is unchanged)."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"image feature file {path} does not exist")
    stat = path.stat()
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def npy_ids_file(file: Path) -> Path:
    """The image-id list of a ``.npy`` feature file: ``NAME.ids.txt`` beside it, or, for the official
    Multi30K naming (``SPLIT-resnet50-avgpool.npy``), ``SPLIT.images.txt`` or ``SPLIT.txt`` beside it."""
    candidates = [file.with_suffix(".ids.txt")]
    if "-" in file.stem:
        split = file.stem.split("-", 1)[0]
        candidates += [file.with_name(f"{split}.images.txt"), file.with_name(f"{split}.txt")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(f"{file}: a .npy feature file needs its image ids, one per line and row-aligned, in "
                    f"{' or '.join(c.name for c in candidates)} beside it")


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, size: int) -> ImageFeatures:
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".npy":
        ids_file = npy_ids_file(file)
        ids = [line.strip() for _, line in strip_trailing_blank(list(read_lines(ids_file)))]
        vectors = np.load(file, allow_pickle=False)
    elif suffix == ".safetensors":
        ids, vectors = _read_safetensors(file)
    elif suffix == ".parquet":
        ids, vectors = _read_parquet(file)
    else:
        raise ConfigError(f"{file}: unsupported image feature file; use .npy (+ .ids.txt), .safetensors or .parquet")
    return ImageFeatures(file, ids, np.ascontiguousarray(vectors, dtype=np.float32))


def _read_safetensors(file: Path) -> tuple[list[str], np.ndarray]:
    from safetensors import safe_open

    with safe_open(str(file), framework="np") as handle:
        names = set(handle.keys())
        metadata = handle.metadata() or {}
        if "features" not in names:
            raise DataError(f"{file}: no 'features' tensor (found {sorted(names)})")
        vectors = handle.get_tensor("features")
        if "ids" in metadata:
            ids = json.loads(metadata["ids"])
        elif "ids" in names:
            raw = handle.get_tensor("ids")
            if raw.dtype.kind not in "iu":
                raise DataError(f"{file}: an 'ids' tensor must hold integers; put string ids in metadata['ids']")
            ids = raw.reshape(-1).tolist()
        else:
            raise DataError(f"{file}: no image ids (metadata key 'ids' as a JSON list, or an integer 'ids' tensor)")
    return [str(i) for i in ids], vectors


def _read_parquet(file: Path) -> tuple[list[str], np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(file)
    names = table.column_names
    id_column = next((c for c in ID_COLUMNS if c in names), None)
    lists = [c for c in names if pa.types.is_list(table.schema.field(c).type)
             or pa.types.is_fixed_size_list(table.schema.field(c).type)
             or pa.types.is_large_list(table.schema.field(c).type)]
    vector_column = next((c for c in VECTOR_COLUMNS if c in names), lists[0] if len(lists) == 1 else None)
    if id_column is None or vector_column is None:
        raise DataError(f"{file}: need an id column (one of {ID_COLUMNS}) and a vector column "
                        f"(one of {VECTOR_COLUMNS}, or a single list column); found {names}")
    column = table.column(vector_column).combine_chunks()
    sizes = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(sizes) and (sizes != sizes[0]).any():
        raise DataError(f"{file}: vectors in column {vector_column!r} differ in length")
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    vectors = flat.reshape(len(sizes), int(sizes[0]) if len(sizes) else 0)
    return [str(i) for i in table.column(id_column).to_pylist()], vectors


def task_image_features(task: Task) -> ImageFeatures | None:
    """The feature file a run gave the task (``--image-features``), if any."""
    path = task.options.get("image_features")
    return load_image_features(path) if path else None
