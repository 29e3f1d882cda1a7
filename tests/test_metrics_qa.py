"""Tests for xling.metrics.qa. Expected values are worked out by hand."""

from __future__ import annotations

import pytest

from xling.metrics import METRICS
from xling.metrics.qa import (
    MLQA_LANGUAGES,
    QA_METRICS,
    QA_NORMALISATION,
    QALanguageError,
    answer_tokens,
    exact_match_score,
    f1_score,
    normalize_answer,
    score_qa,
)


# --- squad mode -------------------------------------------------------------


def test_squad_lowercase_punct_articles_whitespace():
    # lower -> "the  quick, brown fox!" -> drop ",!" -> drop "the" -> collapse
    assert normalize_answer("The  Quick, Brown fox!") == "quick brown fox"


def test_squad_articles_only_as_whole_words():
    # "an" goes; "theater" / "anthem" / "another" keep their letters
    assert normalize_answer("Theater an anthem another") == "theater anthem another"


def test_squad_punct_removed_before_articles_so_words_fuse():
    # "-" is deleted first: "stateoftheart" is one word, its "the" survives
    assert normalize_answer("State-of-the-art") == "stateoftheart"


def test_squad_keeps_non_ascii_punctuation():
    # only string.punctuation is removed: «», “”, ¿, 。 stay; "?" goes
    assert normalize_answer("«Hola» “amigo” ¿Qué?", lang="es") == "«hola» “amigo” ¿qué"
    assert normalize_answer("北京。", lang="zh") == "北京。"


def test_squad_ignores_lang_for_articles_and_tokens():
    # Spanish articles are NOT removed, English ones are, whatever lang says
    assert normalize_answer("El perro y the gato", lang="es") == "el perro y gato"
    # no segmentation of Chinese in squad mode: one whitespace token
    assert answer_tokens("北京大学", lang="zh") == ["北京大学"]


# --- mlqa mode: punctuation ---------------------------------------------------


def test_mlqa_removes_unicode_punctuation():
    # « » “ ” ¿ ? are all category P -> removed
    assert normalize_answer("«Hola» “amigo” ¿Qué?", lang="es", mode="mlqa") == "hola amigo qué"


def test_mlqa_removes_ascii_symbols_but_keeps_other_symbols():
    # "$" (Sc) and "+" (Sm) are removed because they are in string.punctuation;
    # "€" (Sc) is not P and not ASCII -> kept
    assert normalize_answer("$5 + 3", mode="mlqa") == "5 3"
    assert normalize_answer("€5", mode="mlqa") == "€5"


def test_mlqa_hindi_no_articles_danda_removed():
    # "।" (U+0964) is Po -> removed; Hindi has no article list
    assert normalize_answer("भारत की राजधानी।", lang="hi", mode="mlqa") == "भारत की राजधानी"


# --- mlqa mode: articles per language -------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "The cat and a dog", "cat and dog"),
        ("es", "El perro de los abuelos y la casa de Elena", "perro de abuelos y casa de elena"),
        ("de", "Der Hund und die Katze eines Mannes im Derby", "hund und katze mannes im derby"),
        ("vi", "Cái bàn của tôi là những chiếc ghế", "bàn tôi ghế"),
    ],
)
@pytest.mark.parametrize("mode", ["mlqa", "mlqa_word_initial"])
def test_mlqa_articles(lang, text, expected, mode):
    assert normalize_answer(text, lang=lang, mode=mode) == expected


# --- mlqa mode: Arabic, official quirk vs word-initial ------------------------


@pytest.mark.parametrize(
    ("text", "official", "word_initial"),
    [
        # every ال becomes a space: the two articles, and the ا+ل ending "مال" (م ا ل)
        ("الكتاب الجديد مال", "كتاب جديد م", "كتاب جديد مال"),
        # "المال" = ال + م + ال: both replaced officially, only the first word-initially
        ("المال", "م", "مال"),
        # a clitic before the article: "فالكتاب" (and the book) splits in two officially
        ("فالكتاب", "ف كتاب", "فالكتاب"),
        # "لا" (ل then ا) is not "ال": untouched in both
        ("سلام", "سلام", "سلام"),
    ],
)
def test_arabic_article_official_replaces_every_al(text, official, word_initial):
    assert normalize_answer(text, lang="ar", mode="mlqa") == official
    assert normalize_answer(text, lang="ar", mode="mlqa_word_initial") == word_initial


def test_arabic_official_equals_the_official_regex_on_random_strings():
    # the official remove_articles for ar is re.sub('\\sال^|ال', ' ', text) after lower-casing
    # and punctuation removal; letters, spaces and ال are drawn so that ال lands everywhere
    import random
    import re

    rng = random.Random(0)
    pieces = ["ال", "ا", "ل", "م", "ك", "ت", "ب", " ", "  ", "\n", "A", ".", "،"]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        cleaned = "".join(ch for ch in text.lower() if ch not in ".،")
        assert answer_tokens(text, "ar", "mlqa") == re.sub("\\sال^|ال", " ", cleaned).split(), text


def test_arabic_scores_differ_between_official_and_word_initial():
    # "والكتاب" vs gold "الكتاب": official ["و", "كتاب"] vs ["كتاب"] -> P 1/2, R 1 -> F1 2/3;
    # word-initial ["والكتاب"] vs ["كتاب"] -> no common token -> 0
    assert f1_score("والكتاب", "الكتاب", lang="ar", mode="mlqa") == pytest.approx(2 / 3)
    assert f1_score("والكتاب", "الكتاب", lang="ar", mode="mlqa_word_initial") == 0.0
    # "سعيد" vs gold "سعيد خالد": official gold ["سعيد", "خ", "د"] -> P 1, R 1/3 -> F1 1/2;
    # word-initial gold ["سعيد", "خالد"] -> P 1, R 1/2 -> F1 2/3
    assert f1_score("سعيد", "سعيد خالد", lang="ar", mode="mlqa") == pytest.approx(1 / 2)
    assert f1_score("سعيد", "سعيد خالد", lang="ar", mode="mlqa_word_initial") == pytest.approx(2 / 3)
    # "مال" (money) vs gold "م": equal officially (both "م"), not word-initially
    assert exact_match_score("مال", "م", lang="ar", mode="mlqa") == 1.0
    assert exact_match_score("مال", "م", lang="ar", mode="mlqa_word_initial") == 0.0


def test_arabic_corpus_scores_official_by_hand():
    references = {"q1": ["الكتاب"], "q2": ["سعيد خالد", "خالد"], "q3": ["المال"]}
    predictions = {"q1": "والكتاب", "q2": "سعيد", "q3": "مال"}
    # official: q1 EM 0, F1 2/3; q2 gold 1: F1 1/2, gold 2 ("خ د"): no common -> max 1/2; q3 "م" == "م": EM 1, F1 1
    # EM = 1/3 -> 33.33 %; F1 = (2/3 + 1/2 + 1) / 3 = 13/18 -> 72.22 %
    official = score_qa(predictions, references, lang="ar", mode="mlqa")
    assert official["exact_match"] == pytest.approx(100 / 3)
    assert official["f1"] == pytest.approx(1300 / 18)
    # word-initial: q1 0 / 0; q2 max(2/3, 0) = 2/3; q3 "مال" == "مال": EM 1, F1 1
    # EM = 1/3; F1 = (0 + 2/3 + 1) / 3 = 5/9 -> 55.56 %
    corrected = score_qa(predictions, references, lang="ar", mode="mlqa_word_initial")
    assert corrected["exact_match"] == pytest.approx(100 / 3)
    assert corrected["f1"] == pytest.approx(500 / 9)


# --- mlqa mode: languages --------------------------------------------------------


def test_official_mlqa_refuses_languages_it_has_no_rule_for():
    with pytest.raises(QALanguageError, match="no rule for language 'fr'"):
        normalize_answer("Le chat", lang="fr", mode="mlqa")
    with pytest.raises(QALanguageError, match="no rule for language 'fr'"):
        score_qa({}, {"q": ["x"]}, lang="fr", mode="mlqa")
    # the corrected variant scores them with no articles and whitespace tokens
    assert normalize_answer("Le chat", lang="fr", mode="mlqa_word_initial") == "le chat"
    # the official languages all work, region tags included
    for lang in (*MLQA_LANGUAGES, "zh-CN"):
        assert answer_tokens("x", lang=lang, mode="mlqa") == ["x"]


def test_mlqa_articles_are_language_specific():
    # en article list does not include "el"; es list does not include "the"
    assert normalize_answer("el the", lang="en", mode="mlqa") == "el"
    assert normalize_answer("el the", lang="es", mode="mlqa") == "the"


# --- mlqa mode: Chinese mixed segmentation ---------------------------------


def test_zh_mixed_segmentation():
    assert answer_tokens("北京大学123 abc", lang="zh", mode="mlqa") == [
        "北", "京", "大", "学", "123", "abc",
    ]


def test_zh_punctuation_removed_before_segmentation():
    # "，" "。" "、" removed, then each CJK char is a token
    assert answer_tokens("北京，大学。上海、天津", lang="zh", mode="mlqa") == [
        "北", "京", "大", "学", "上", "海", "天", "津",
    ]
    # official order: "ab,cd" -> "abcd" (one token), not ["ab", "cd"]
    assert answer_tokens("ab,cd", lang="zh", mode="mlqa") == ["abcd"]


def test_zh_region_tag_and_no_articles():
    # "zh-CN" is treated as zh; "the" is not removed for Chinese
    assert normalize_answer("The 北京", lang="zh-CN", mode="mlqa") == "the 北 京"


def test_zh_f1_over_characters():
    # pred 北 京 大 学 (4), gold 北 京 (2): common 2, P = 2/4, R = 2/2
    # F1 = 2 * 1/2 * 1 / (3/2) = 2/3
    assert f1_score("北京大学", "北京", lang="zh", mode="mlqa") == pytest.approx(2 / 3)
    # squad mode: "北京大学" vs "北京" share no whitespace token -> 0
    assert f1_score("北京大学", "北京", lang="zh") == 0.0


# --- EM / F1 -------------------------------------------------------------------


def test_exact_match_after_normalisation():
    assert exact_match_score("The Eiffel Tower.", "eiffel   tower") == 1.0
    assert exact_match_score("Eiffel Tower", "Eiffel") == 0.0


def test_partial_overlap_f1():
    # pred: red apple tree (3); gold: a red apple pie slice -> red apple pie slice (4)
    # common 2 -> P = 2/3, R = 2/4, F1 = 2*(2/3)*(1/2) / (2/3 + 1/2) = (2/3)/(7/6) = 4/7
    assert f1_score("red apple tree", "a red apple pie slice") == pytest.approx(4 / 7)


def test_f1_counts_duplicate_tokens_with_multiset_intersection():
    # pred cat cat cat dog (4), gold cat cat (2): common min(3, 2) = 2
    # P = 2/4, R = 2/2 -> F1 = 2 * 1/2 * 1 / (3/2) = 2/3
    assert f1_score("cat cat cat dog", "cat cat") == pytest.approx(2 / 3)


def test_f1_no_common_tokens_is_zero():
    assert f1_score("London", "Paris") == 0.0


def test_empty_strings_follow_official_scripts():
    # both normalise to "": EM 1, but F1 0 (no common tokens)
    assert exact_match_score("", "") == 1.0
    assert f1_score("", "") == 0.0
    # "The." normalises to "" as well
    assert exact_match_score("The.", "", mode="mlqa") == 1.0
    assert f1_score("The.", "", mode="mlqa") == 0.0
    # empty prediction against a real answer
    assert exact_match_score("", "Paris") == 0.0
    assert f1_score("", "Paris") == 0.0


# --- corpus scores -------------------------------------------------------------


def test_score_qa_max_over_golds_and_missing():
    references = {
        "q1": ["Paris", "the city of Paris"],
        "q2": ["1889"],
        "q3": ["Gustave Eiffel"],
        "q4": ["iron"],
    }
    predictions = {
        "q1": "City of Paris",  # EM 1 (2nd gold), F1 1
        "q2": "in 1889",  # EM 0, P = 1/2, R = 1 -> F1 2/3
        "q3": "Eiffel",  # EM 0, P = 1, R = 1/2 -> F1 2/3
        # q4 missing -> 0 / 0
        "q99": "ignored",  # not in references
    }
    result = score_qa(predictions, references)
    # EM = 1/4 = 25 %; F1 = (1 + 2/3 + 2/3 + 0) / 4 = 7/12 = 58.333... %
    assert result["exact_match"] == pytest.approx(25.0)
    assert result["f1"] == pytest.approx(700 / 12)
    assert result["count"] == 4
    assert result["missing"] == 1


def test_score_qa_f1_max_picks_best_gold():
    # golds: "New York" -> P 2/3, R 1 -> F1 0.8; "york city hall" -> P 2/3, R 2/3 -> F1 2/3
    result = score_qa({"q": "new york city"}, {"q": ["New York", "york city hall"]})
    assert result["exact_match"] == 0.0
    assert result["f1"] == pytest.approx(80.0)
    assert result["missing"] == 0


def test_score_qa_all_missing_and_single_string_gold():
    result = score_qa({}, {"a": "x", "b": ["y"]})
    assert result == {"exact_match": 0.0, "f1": 0.0, "count": 2, "missing": 2}
    # a plain string is one gold answer, not a sequence of characters
    assert score_qa({"a": "xy"}, {"a": "xy"})["exact_match"] == 100.0


def test_score_qa_mlqa_zh():
    # q1: EM 1, F1 1 (punctuation ignored); q2: F1 2/3 (see test_zh_f1_over_characters)
    # EM = 1/2 = 50 %; F1 = (1 + 2/3) / 2 = 5/6 = 83.333... %
    result = score_qa(
        {"q1": "北京。", "q2": "北京大学"}, {"q1": ["北京"], "q2": ["北京"]}, lang="zh", mode="mlqa"
    )
    assert result["exact_match"] == pytest.approx(50.0)
    assert result["f1"] == pytest.approx(500 / 6)


# --- errors and metadata -----------------------------------------------------------


def test_unknown_mode_raises():
    with pytest.raises(ValueError, match="unknown QA normalisation mode"):
        normalize_answer("x", mode="squad2")
    with pytest.raises(ValueError, match="unknown QA normalisation mode"):
        score_qa({"q": "x"}, {"q": ["x"]}, mode="xquad")


def test_score_qa_rejects_empty_references_and_empty_gold_lists():
    with pytest.raises(ValueError, match="references is empty"):
        score_qa({"q": "x"}, {})
    with pytest.raises(ValueError, match="no gold answers"):
        score_qa({"q": "x"}, {"q": []})


def test_normalisation_descriptions_say_which_is_official():
    assert set(QA_NORMALISATION) == {"squad", "mlqa", "mlqa_word_initial"}
    assert "verbatim" in QA_NORMALISATION["mlqa"] and "inside words" in QA_NORMALISATION["mlqa"]
    assert "not the official" in QA_NORMALISATION["mlqa_word_initial"]


def test_registered_qa_metrics_score_with_their_mode():
    assert QA_METRICS == {"squad": "qa_squad", "mlqa": "qa_mlqa", "mlqa_word_initial": "qa_mlqa_word_initial"}
    for mode, name in QA_METRICS.items():
        assert METRICS.get(name).description == QA_NORMALISATION[mode]
    # one question where the Arabic variants differ (F1 2/3 against 0, see above)
    official = METRICS.get("qa_mlqa").compute(["والكتاب"], [["الكتاب"]], lang="ar")
    corrected = METRICS.get("qa_mlqa_word_initial").compute(["والكتاب"], [["الكتاب"]], lang="ar")
    assert official == {"exact_match": 0.0, "f1": pytest.approx(200 / 3)}
    assert corrected == {"exact_match": 0.0, "f1": 0.0}
