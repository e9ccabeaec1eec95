from kb.nl.text import fold, slugify, split_sentences, tokenize


def test_sentences_keep_dutch_abbreviations_and_quotes():
    text = "Dit geldt o.a. voor statushouders, bijv. in een azc. Daarna volgt de PIP! ‘Ja,’ zegt Ruth. Klaar?"
    assert split_sentences(text) == [
        "Dit geldt o.a. voor statushouders, bijv. in een azc.",
        "Daarna volgt de PIP!",
        "‘Ja,’ zegt Ruth.",
        "Klaar?",
    ]


def test_sentences_do_not_split_before_lower_case_or_initials():
    assert split_sentences("Zie p. 4 van de handreiking. Mr. A. de Vries zegt iets.") == [
        "Zie p. 4 van de handreiking.",
        "Mr. A. de Vries zegt iets.",
    ]


def test_tokenize_stems_dutch_and_drops_question_words():
    tokens = tokenize("Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?")
    assert tokens == ["uur", "werkervar", "gezinsmigrant", "opdoen", "map"]
    assert tokenize("gezinsmigrant") == tokenize("gezinsmigranten")


def test_fold_and_slugify():
    assert fold("Vóór creëren") == "voor creeren"
    assert slugify("Handreiking: warme overdracht (2021)!") == "handreiking-warme-overdracht-2021"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("***") == "document"
