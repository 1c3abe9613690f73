import pytest

from messaging.keywords import Keyword, keyword_classify, normalize_keyword


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", Keyword.OPT_OUT),
        ("  stopall  ", Keyword.OPT_OUT),
        ("Revoke.", Keyword.OPT_OUT),
        ("end!!", Keyword.OPT_OUT),
        ("Cancel?", Keyword.OPT_OUT),
        ("START", Keyword.OPT_IN),
        ("yes.", Keyword.OPT_IN),
        ("Info", Keyword.HELP),
        ("help me", None),
        ("", None),
        ("S T O P", None),
        ("OPT OUT", None),
    ],
)
def test_keyword_classify(body, expected):
    assert keyword_classify(body) == expected


def test_keyword_opt_out_type_overrides_body():
    assert keyword_classify("ALTO", "STOP") == Keyword.OPT_OUT
    assert keyword_classify("hello", "start") == Keyword.OPT_IN


def test_normalize_keyword_strips_trailing_punctuation_only():
    assert normalize_keyword(" ¡stop! ") == "¡STOP"
