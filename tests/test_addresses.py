"""alertrouter.config.addresses: one bare ASCII addr-spec, normalized, read back the same by Python's mail
parsers; allow-list entries as exact domains."""

from __future__ import annotations

import email.utils
import smtplib
from email.headerregistry import Address

import pytest

from alertrouter.config import addresses

GOOD = [
    ("ana@contoso.com", "ana@contoso.com"),
    ("Ana.Lopez+runs@Contoso.COM", "Ana.Lopez+runs@contoso.com"),  # the local part is kept as written
    ("o'brien@contoso.com", "o'brien@contoso.com"),
    ("ana@xn--bcher-kva.example", "ana@xn--bcher-kva.example"),  # an IDN domain in its ASCII form
    ("a" * 64 + "@contoso.com", "a" * 64 + "@contoso.com"),
]

BAD = [
    ("", "is empty"),
    ("ana", 'has no "@"'),
    ("ana@contoso.com, ben@contoso.com", "holds more than one address"),
    ("Ana <ana@contoso.com>", "has a display name or angle brackets"),
    ('"a b"@contoso.com', "has quotes (a quoted local part or display name)"),
    ("ana(x)@contoso.com", "has a comment in parentheses"),
    ("ana\\@contoso.com", "has a backslash escape"),
    ("ana @contoso.com", "contains a space"),
    ("ana@[127.0.0.1]", "has an IP-literal domain in brackets"),
    ("@a.example:ana@contoso.com", 'has route or group syntax (":")'),
    ("ana%evil.example@contoso.com", 'has "%" or "!" (old relay-routing forms some servers still honour)'),
    ("ana@b@contoso.com", 'has more than one "@"'),
    ("@contoso.com", 'has nothing before the "@"'),
    ("ana@contoso.com\r\n", "contains a control character (line break, tab, NUL…)"),
    ("ana@c\u043entoso.com", "contains non-ASCII characters (write an internationalized domain in its xn-- form)"),
    ("${SECRET}@contoso.com", "holds an ${ENV_VAR} reference"),
    ("a" * 65 + "@contoso.com", "is not a valid address"),
    ("ana@contoso", "is not a valid address"),
    ("ana@localhost", "is not a valid address"),
    ("ana@1.2.3.4", "is not a valid address"),
    ("ana..b@contoso.com", "is not a valid address"),
    ("a" * 250 + "@contoso.com", "is longer than 254 characters"),
]


@pytest.mark.parametrize("text,normalized", GOOD)
def test_good_addresses_are_normalized_and_read_back_the_same(text, normalized):
    address = addresses.parse(text)
    assert address == normalized
    assert email.utils.parseaddr(address) == ("", address)
    assert smtplib.quoteaddr(address) == f"<{address}>"  # what RCPT TO carries
    assert Address(addr_spec=address).addr_spec == address


@pytest.mark.parametrize("text,reason", BAD)
def test_bad_addresses_are_refused_with_a_reason_that_does_not_repeat_them(text, reason):
    with pytest.raises(addresses.AddressError) as info:
        addresses.parse(text)
    assert info.value.reason == reason
    if len(text) > 3:
        assert text not in info.value.reason


def test_domains_match_as_written_in_the_allow_list():
    assert addresses.parse_domain("@Contoso.COM") == "contoso.com"
    assert addresses.parse_domain("xn--bcher-kva.example") == "xn--bcher-kva.example"
    for bad in ("*.contoso.com", "ana@contoso.com", "[1.2.3.4]", "contoso", "c\u043entoso.com", ""):
        with pytest.raises(addresses.AddressError):
            addresses.parse_domain(bad)


def test_split_separates_on_commas_and_semicolons_only():
    assert addresses.split(" a@b.com ,c@d.com;; e f ,\t") == ["a@b.com", "c@d.com", "e f"]
    assert addresses.split("a@b.com\r\nBcc: x@y.com") == ["a@b.com\r\nBcc: x@y.com"]


def test_shown_escapes_what_a_terminal_would_act_on():
    assert addresses.shown("a\x1b[31m\u202eb\r\n") == "a\\x1b[31m\\u202eb\\r\\n"
    assert addresses.shown("x" * 100, limit=10) == "x" * 9 + "…"
