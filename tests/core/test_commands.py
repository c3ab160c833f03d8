from datetime import timedelta

import pytest

from bot.core.commands import Cancel, Help, RequestCode, parse
from bot.core.errors import InvalidInput
from bot.core.upn import normalise_upn
from bot.core.window import WindowSpec


@pytest.mark.parametrize("text, command", [
    ("help", Help()),
    ("HELP", Help()),
    ("?", Help()),
    ("", Help()),
    ("cancel", Cancel()),
    ("code alice@contoso.com", RequestCode("alice@contoso.com", WindowSpec("now"))),
    ("code Alice@Contoso.com now", RequestCode("alice@contoso.com", WindowSpec("now"))),
    ("Code alice@contoso.com in 10m", RequestCode("alice@contoso.com", WindowSpec("in", delay=timedelta(minutes=10)))),
    ("code o'brien@contoso.co.uk", RequestCode("o'brien@contoso.co.uk", WindowSpec("now"))),
])
def test_grammar(text, command):
    assert parse(text) == command


@pytest.mark.parametrize("text, message", [
    ("cod alice@contoso.com", "I don't know the command `cod`. Did you mean `code`? Type `help` for the list."),
    ("hlep", "I don't know the command `hlep`. Did you mean `help`? Type `help` for the list."),
    ("cancle", "I don't know the command `cancle`. Did you mean `cancel`? Type `help` for the list."),
    ("launch", "I don't know the command `launch`. Type `help` for the list."),
    ("code", "Whose code? Use `code alice@contoso.com` (add `at 14:30` or `in 10m` for later)."),
    ("code alice", "`alice` is not a valid user name. Use the form `alice@contoso.com`."),
    ("code alice@contoso.com soon", "I don't understand the window `soon`. Use `now`, `at 14:30` or `in 10m`."),
])
def test_grammar_errors(text, message):
    with pytest.raises(InvalidInput) as error:
        parse(text)
    assert error.value.message == message


@pytest.mark.parametrize("raw, message", [
    ("ali\u200bce@contoso.com", "That user name contains invisible characters (zero-width or bidi). Type it again by hand."),
    ("alice@contoso.com\u202e", "That user name contains invisible characters (zero-width or bidi). Type it again by hand."),
    ("ａｌｉｃｅ@contoso.com", "That user name contains full-width or compatibility characters. Type it in plain ASCII."),
    ("аlice@contoso.com", "That user name contains non-ASCII letters, which could be look-alikes. Type it in plain ASCII."),
    ("alice@@contoso.com", "`alice@@contoso.com` is not a valid user name. Use the form `alice@contoso.com`."),
    ("a" * 120 + "@contoso.com", f"`{'a' * 60}` is not a valid user name. Use the form `alice@contoso.com`."),
])
def test_upn_rejections(raw, message):
    with pytest.raises(InvalidInput) as error:
        normalise_upn(raw)
    assert error.value.message == message


def test_a_window_that_is_not_understood_is_quoted_safely():
    with pytest.raises(InvalidInput) as refused:
        parse("code alice@contoso.example at 14:30 `tomorrow`\u202e and the day after that, please")
    assert refused.value.message == ("I don't understand the window `at 14:30 tomorrow and the day `. Use `now`, "
                                     "`at 14:30` or `in 10m`.")
