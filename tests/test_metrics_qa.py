"""Tests for xling.metrics.qa. Expected values are worked out by hand."""

from __future__ import annotations

import pytest

from xling.metrics.qa import (
    QA_NORMALISATION,
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
        # word-initial ال removed; "مال" has no initial ال and is kept
        ("ar", "الكتاب الجديد مال", "كتاب جديد مال"),
        ("ar", "المال", "مال"),
        # unknown language: no articles, whitespace tokens
        ("fr", "Le chat", "le chat"),
    ],
)
def test_mlqa_articles(lang, text, expected):
    assert normalize_answer(text, lang=lang, mode="mlqa") == expected


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


def test_normalisation_description_covers_both_modes():
    assert set(QA_NORMALISATION) == {"squad", "mlqa"}
    assert all(isinstance(v, str) and v for v in QA_NORMALISATION.values())
