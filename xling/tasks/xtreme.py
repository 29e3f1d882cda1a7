"""The XTREME classification and structured-prediction tasks, one declaration each."""

from __future__ import annotations

from xling.tasks.task import HubSource, LocalPattern, Parallel, Task

HF_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
# XNLI and PAWS-X dev and test sets are human translations of the English ones, row by row.
ROW_ALIGNED_DEV_TEST = (Parallel(("dev",), "row", note="dev rows are translations of dev-en's rows"),
                        Parallel(("test",), "row", note="test rows are translations of test-en's rows"))

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "SYM", "VERB", "X")
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
NLI_LABELS = ("entailment", "neutral", "contradiction")

PANX_LANGUAGES = tuple(
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta te th "
    "tl tr ur vi yo zh".split()
)
UDPOS_LANGUAGES = tuple(
    "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo zh".split()
)
# google/xtreme names its udpos configs by English language name.
UDPOS_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese", "lt": "Lithuanian", "pl": "Polish",
    "ro": "Romanian", "uk": "Ukrainian", "wo": "Wolof",
}

XNLI = Task(
    name="xnli",
    kind="pair_classification",
    description="Cross-lingual natural language inference (3 labels); train on English MultiNLI",
    languages=tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split()),
    labels=NLI_LABELS,
    metric="accuracy",
    local=(
        LocalPattern("{split}-{lang}.labeled.tsv"),
        LocalPattern("{split}-{lang}.tsv", label_file="{split}-labels.tsv"),
    ),
    hub=(
        HubSource("facebook/xnli", "{lang}", HF_SPLITS, {"text_a": "premise", "text_b": "hypothesis", "label": "label"}),
        HubSource("google/xtreme", "XNLI", {"dev": "validation", "test": "test"},
                  {"text_a": "sentence1", "text_b": "sentence2", "label": "gold_label"}, language_column="language"),
    ),
    reference="Conneau et al. 2018 (arXiv 1809.05053)",
    options={"label_case": "lower", "epochs": 5},  # lower: SICK / MultiNLI files spell labels in capitals
    parallel=ROW_ALIGNED_DEV_TEST,
)

PAWSX = Task(
    name="pawsx",
    kind="pair_classification",
    description="Cross-lingual paraphrase identification (PAWS-X, 2 labels: 1 = paraphrase)",
    languages=tuple("de en es fr ja ko zh".split()),
    labels=("0", "1"),
    metric="accuracy",
    local=(
        LocalPattern("{split}-{lang}.labeled.tsv"),
        LocalPattern("{split}-{lang}.tsv"),
        LocalPattern("{lang}/{split}_2k.tsv", splits=("dev", "test")),  # x-final layout of the PAWS-X release
        LocalPattern("{lang}/train.tsv", splits=("train",)),
    ),
    hub=(
        HubSource("google-research-datasets/paws-x", "{lang}", HF_SPLITS,
                  {"text_a": "sentence1", "text_b": "sentence2", "label": "label"}),
        HubSource("google/xtreme", "PAWS-X.{lang}", HF_SPLITS,
                  {"text_a": "sentence1", "text_b": "sentence2", "label": "label"}),
    ),
    reference="Yang et al. 2019 (arXiv 1908.11828)",
    options={"epochs": 5},
    parallel=ROW_ALIGNED_DEV_TEST,
)

PANX = Task(
    name="panx",
    kind="tagging",
    description="Named-entity recognition on WikiANN / PAN-X (IOB2 over PER, ORG, LOC)",
    languages=PANX_LANGUAGES,
    labels=PANX_TAGS,
    metric="span_f1",
    local=(
        LocalPattern("**/{split}-{lang}.tsv"),
        LocalPattern("**/{lang}/{split}.conllu"),
        LocalPattern("**/{lang}/{split}.tsv"),
        LocalPattern("**/{lang}/{split}"),  # the raw rahimi layout: {lang}/{train,dev,test}
    ),
    hub=(
        HubSource("google/xtreme", "PAN-X.{lang}", HF_SPLITS, {"tokens": "tokens", "tags": "ner_tags"}),
        HubSource("unimelb-nlp/wikiann", "{lang}", HF_SPLITS, {"tokens": "tokens", "tags": "ner_tags"}),
    ),
    reference="Pan et al. 2017; Rahimi et al. 2019 splits",
    options={"epochs": 10},
)

UDPOS = Task(
    name="udpos",
    kind="tagging",
    description="Part-of-speech tagging on Universal Dependencies (17 UPOS tags; XTREME merges treebanks)",
    languages=UDPOS_LANGUAGES,
    labels=UPOS,
    metric="pos_f1",
    local=(
        LocalPattern("**/{split}-{lang}.tsv"),
        LocalPattern("**/{lang}_*-ud-{split}.conllu", merge=True),
    ),
    hub=(
        HubSource("google/xtreme", "udpos.{lang_name}", HF_SPLITS, {"tokens": "tokens", "tags": "pos_tags"},
                  lang_names=UDPOS_NAMES),
    ),
    reference="Universal Dependencies v2.5 as prepared by XTREME (Hu et al. 2020)",
    options={"tag_column": "upos", "epochs": 10},
)

TASKS = (XNLI, PAWSX, PANX, UDPOS)
