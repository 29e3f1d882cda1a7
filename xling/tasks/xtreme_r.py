"""XTREME(-R) tasks with data here: XCOPA (multiple choice), Tatoeba and BUCC (retrieval), one declaration each."""

from __future__ import annotations

from xling.tasks.task import HubSource, LocalPattern, Parallel, Task
from xling.tasks.xtreme import HF_SPLITS

XCOPA_LANGUAGES = tuple("et ht id it qu sw ta th tr vi zh".split())

# The 36 Tatoeba languages of XTREME (google-research/xtreme evaluate.py TASK2LANGS).
TATOEBA_XTREME = tuple(
    "af ar bg bn de el es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr nl pt ru sw ta te th tl tr ur vi "
    "zh".split()
)

# ISO 639-1 -> the ISO 639-3 code in Tatoeba's file names (tatoeba.<xxx>-eng.<xxx>). Macrolanguages are
# stored under one member: Arabic ara, Persian pes, Swahili swh, Chinese cmn (Mandarin), Malay zsm,
# Latvian lvs. Languages without an ISO 639-1 code are named by their 3-letter code (ang, arq, yue, ...).
TATOEBA_CODES: dict[str, str] = {
    "af": "afr", "am": "amh", "ar": "ara", "az": "aze", "be": "bel", "bg": "bul", "bn": "ben", "br": "bre",
    "bs": "bos", "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu", "el": "ell", "eo": "epo",
    "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "fi": "fin", "fo": "fao", "fr": "fra", "fy": "fry",
    "ga": "gle", "gd": "gla", "gl": "glg", "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun", "hy": "hye",
    "ia": "ina", "id": "ind", "ie": "ile", "io": "ido", "is": "isl", "it": "ita", "ja": "jpn", "jv": "jav",
    "ka": "kat", "kk": "kaz", "km": "khm", "ko": "kor", "ku": "kur", "la": "lat", "lt": "lit", "lv": "lvs",
    "mk": "mkd", "ml": "mal", "mn": "mon", "mr": "mar", "ms": "zsm", "nb": "nob", "nl": "nld", "nn": "nno",
    "oc": "oci", "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv", "sq": "sqi",
    "sr": "srp", "sv": "swe", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tk": "tuk", "tl": "tgl",
    "tr": "tur", "tt": "tat", "ug": "uig", "uk": "ukr", "ur": "urd", "uz": "uzb", "vi": "vie", "xh": "xho",
    "yi": "yid", "zh": "cmn",
}

_COPA_FIELDS = {"premise": "premise", "choices": "choice1,choice2", "question": "question", "label": "label",
                "id": "idx"}

XCOPA = Task(
    name="xcopa",
    kind="multiple_choice",
    description="Cross-lingual Choice of Plausible Alternatives (cause / effect, 2 choices); train on English COPA",
    languages=("en",) + XCOPA_LANGUAGES,
    metric="accuracy",
    local=(
        LocalPattern("data/{lang}/{split}.{lang}.jsonl", splits=("dev", "test")),  # cambridgeltl/xcopa layout
        LocalPattern("copa_en/{split}-{lang}.jsonl"),  # English COPA next to it (train / val / test)
        LocalPattern("{split}-{lang}.jsonl"),  # flat XTREME-R layout
    ),
    hub=(
        HubSource("cambridgeltl/xcopa", "{lang}", {"dev": "validation", "test": "test"}, _COPA_FIELDS,
                  languages=XCOPA_LANGUAGES),
        HubSource("aps/super_glue", "copa", HF_SPLITS, _COPA_FIELDS, languages=("en",)),
        HubSource("pkavumba/balanced-copa", None, {"train": "train", "test": "test"},
                  {**_COPA_FIELDS, "id": "id"}, languages=("en",)),
    ),
    reference="Ponti et al. 2020 (arXiv 2005.00333); COPA: Roemmele et al. 2011",
    # 5 epochs as google-research/xtreme scripts/train_xcopa.sh; see xling/kinds/choice.py for the connectives.
    options={"epochs": 5, "pooling": "mean", "connectives": {"cause": "because", "effect": "so"}},
    # XCOPA translates COPA's validation and test sets item by item.
    parallel=(Parallel(("dev",), "row"), Parallel(("test",), "row")),
)

TATOEBA = Task(
    name="tatoeba",
    kind="retrieval",
    description="Sentence retrieval xx <-> English on Tatoeba, no training (score with `xling retrieve`)",
    languages=TATOEBA_XTREME,
    metric="accuracy",
    local=(LocalPattern("**/tatoeba.{lang3}-eng.{lang3}", splits=("test",)),),
    hub=(
        HubSource("google/xtreme", "tatoeba.{lang_name}", {"test": "validation"},
                  {"text": "source_sentence", "english": "target_sentence"}, lang_names=TATOEBA_CODES),
    ),
    reference="Artetxe & Schwenk 2019 (LASER, arXiv 1812.10464); XTREME (Hu et al. 2020)",
    options={"lang3": TATOEBA_CODES},
    parallel=(Parallel(("test",), "row", note="line i of every language translates the same English line"),),
)


BUCC = Task(
    name="bucc",
    kind="retrieval",
    description="BUCC 2018 bitext mining xx -> English: margin-scored candidates, threshold chosen on dev, F1 "
                "(score with `xling retrieve --task bucc`)",
    languages=("de", "fr", "ru", "zh"),
    metric="bitext_f1",
    # XTREME's file names (BUCC's own: training -> dev); .en and .gold files lie next to each
    local=(LocalPattern("**/{lang}-en.{split}.{lang}", splits=("dev", "test")),),
    reference="Zweigenbaum et al. 2018 (BUCC shared task); margin: Artetxe & Schwenk 2019 (arXiv 1811.01136); "
              "XTREME (Hu et al. 2020)",
)

TASKS = (XCOPA, TATOEBA, BUCC)
