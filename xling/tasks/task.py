"""What a task is: one declaration with its kind, languages, labels, metric and data sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Split names as xling spells them, and the names other layouts use for them.
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "dev": ("dev", "val", "validation", "valid"),
    "test": ("test",),
}


@dataclass(frozen=True)
class LocalPattern:
    """A file name pattern below a data directory.

    ``pattern`` may use ``{lang}``, ``{split}`` (tried with every alias of the
    split) and ``{lang3}`` (ISO 639-3, for Tatoeba-style names); it may contain
    ``**`` to search sub-directories. ``.gz`` is always tried too. With
    ``merge=True`` every matching file is read and concatenated (UD treebanks of
    one language, as XTREME merges them); otherwise more than one match is an
    error. ``label_file`` names a row-aligned labels file (header + ``label``
    column) used when the matched file carries no labels (XNLI test).
    ``split_column`` / ``split_values`` select one split's rows from a file
    that holds all of them (SICK's ``SemEval_set``).
    """

    pattern: str
    merge: bool = False
    label_file: str | None = None
    splits: tuple[str, ...] | None = None  # restrict this pattern to some splits
    split_column: str | None = None  # one file holds every split (SICK): keep rows whose column ...
    split_values: dict[str, str] = field(default_factory=dict)  # ... equals split_values[split]


@dataclass(frozen=True)
class HubSource:
    """Where a task's data lives on the Hugging Face hub.

    ``config`` and the split names are formatted with ``lang`` and ``lang_name`` (from
    ``lang_names``; e.g. ``udpos.{lang_name}`` -> ``udpos.German``).
    ``fields`` maps xling's field names to the dataset's columns. When
    ``language_column`` is set, one config holds every language and rows are
    filtered on it (``google/xtreme`` ``XNLI``).
    """

    path: str
    config: str | None
    splits: dict[str, str]
    fields: dict[str, str]
    languages: tuple[str, ...] | None = None
    lang_names: dict[str, str] = field(default_factory=dict)
    language_column: str | None = None
    label_map: dict[Any, str] = field(default_factory=dict)

    def covers(self, lang: str, split: str) -> bool:
        if split not in self.splits:
            return False
        if self.languages is not None and lang not in self.languages:
            return False
        return not ("{lang_name}" in (self.config or "") and lang not in self.lang_names)

    def config_for(self, lang: str) -> str | None:
        if self.config is None:
            return None
        return self.config.format(lang=lang, lang_name=self.lang_names.get(lang, lang))

    def split_for(self, lang: str, split: str) -> str:
        """The dataset's split name; it may name the language too (``test_{lang}``, Babelscape/wikineural)."""
        return self.splits[split].format(lang=lang, lang_name=self.lang_names.get(lang, lang))

    def describe(self, lang: str, split: str) -> str:
        config = self.config_for(lang)
        where = f"{self.path}" + (f" ({config})" if config else "")
        return f"hub:{where} split={self.split_for(lang, split)}"


PARALLEL_KEYS = ("row", "id")


@dataclass(frozen=True)
class Parallel:
    """Splits of a task whose examples are translations of each other across languages.

    Every language's copy of any split in ``splits`` shares its examples' identities with every other:
    ``by="row"`` (row ``i`` of ``dev-es`` translates row ``i`` of ``dev-en``: XNLI, PAWS-X, Tatoeba) or
    ``by="id"`` (the example id names the same question in every language: XQuAD, whose ids are SQuAD v1.1
    dev's, and MLQA, whose ids name one parallel context-question pair). With
    ``drop_from_selection=True`` a selection set drawn from these splits loses the examples that are
    evaluated (SQuAD dev holds the English source of every XQuAD question), and says how many.
    """

    splits: tuple[str, ...]
    by: str = "row"
    drop_from_selection: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.by not in PARALLEL_KEYS:
            raise ValueError(f"Parallel.by must be one of {PARALLEL_KEYS}, got {self.by!r}")


@dataclass(frozen=True)
class Task:
    """One task, declared once.

    ``kind`` names an entry of :data:`xling.kinds.KINDS` (``pair_classification``,
    ``tagging``, ``span_qa``, ...): the kind brings the reader, features, head,
    decoder and scoring, so a new task of an existing kind is this declaration only.
    ``labels`` is the closed label set (None for kinds without labels, such
    as span QA). ``metric`` names an entry of :data:`xling.metrics.METRICS`;
    its primary score is what tables report. ``eval_languages`` defaults to
    ``languages`` (the XTREME set). ``parallel`` declares which splits are translations of each other
    across languages (:class:`Parallel`); xling never scores examples parallel to what a run trained or
    selected on (:mod:`xling.data.parallel`). A task may also be declared in a YAML file
    with the same fields (:mod:`xling.tasks.from_yaml`); ``origin`` is that file.
    """

    name: str
    kind: str
    description: str
    languages: tuple[str, ...]
    metric: str
    labels: tuple[str, ...] | None = None
    local: tuple[LocalPattern, ...] = ()
    hub: tuple[HubSource, ...] = ()
    train_language: str = "en"
    train_split: str = "train"
    dev_split: str = "dev"
    test_split: str = "test"
    max_seq_length: int = 128
    version: str = "1"
    reference: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    parallel: tuple[Parallel, ...] = ()
    origin: str = ""  # the YAML file that declared the task ("" for a built-in declaration)

    @property
    def num_labels(self) -> int:
        return len(self.labels or ())

    def label_index(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels or ())}

    def parallel_group(self, split: str, other: str) -> Parallel | None:
        """The declaration under which ``split`` and ``other`` (in any two languages) are parallel, if any."""
        for group in self.parallel:
            if split in group.splits and other in group.splits:
                return group
        return None
