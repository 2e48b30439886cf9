import datetime as dt

from support.headers import SYNTHETIC_DOMAIN, decode_words, parse_date, parse_headers


def raw(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def test_plain_headers():
    h = parse_headers(
        raw(
            "From: Customer <customer@example.com>",
            "Subject: Need help with API",
            "Date: Mon, 20 Oct 2025 19:00:00 +0200",
            "Message-ID: <abc@example.com>",
        )
    )
    assert h.from_address == "customer@example.com"
    assert h.from_name == "Customer"
    assert h.subject == "Need help with API"
    assert h.date == dt.datetime(2025, 10, 20, 17, 0, tzinfo=dt.UTC)
    assert (h.key, h.message_id, h.synthetic) == ("<abc@example.com>", "<abc@example.com>", False)


def test_encoded_words_utf8_latin1_and_mixed():
    assert decode_words("=?UTF-8?B?w4fDoCBuZSBtYXJjaGUgcGFz?=") == "Çà ne marche pas"
    assert decode_words("=?ISO-8859-1?Q?Caf=E9_cr=E8me?=") == "Café crème"
    mixed = "Re: =?UTF-8?Q?Stra=C3=9Fe?= and =?iso-8859-1?q?r=E9sum=E9?= now"
    assert decode_words(mixed) == "Re: Straße and résumé now"
    # White space between two encoded words is not part of the text (RFC 2047 6.2).
    assert decode_words("=?utf-8?q?Hello?= =?utf-8?q?World?=") == "HelloWorld"


def test_display_name_encoded_and_quoted():
    h = parse_headers(raw('From: "=?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?=" <jose@example.es>'))
    assert (h.from_address, h.from_name) == ("jose@example.es", "José Pérez")
    h = parse_headers(raw('From: "Doe, Jane" <jane@example.com>'))
    assert (h.from_address, h.from_name) == ("jane@example.com", "Doe, Jane")


def test_folded_subject_is_unfolded():
    h = parse_headers(raw("Subject: A very long subject", "\tthat continues", "  here"))
    assert h.subject == "A very long subject\tthat continues  here"
    h = parse_headers(raw("Subject: =?utf-8?q?Folded_?=", " =?utf-8?q?words?="))
    assert h.subject == "Folded words"


def test_raw_utf8_and_latin1_bytes_in_headers():
    assert parse_headers("Subject: Grüße\r\n\r\n".encode()).subject == "Grüße"
    assert parse_headers("Subject: Grüße\r\n\r\n".encode("latin-1")).subject == "Grüße"


def test_bad_encoded_word_and_unknown_charset_do_not_crash():
    assert parse_headers(raw("Subject: =?utf-8?B?***?=")).subject  # shown as it came
    assert parse_headers(raw("Subject: =?x-unknown?q?abc?=")).subject == "abc"


def test_dates_to_utc_and_bad_dates_to_none():
    assert parse_date("Tue, 21 Oct 2025 01:30:00 +0530") == dt.datetime(
        2025, 10, 20, 20, 0, tzinfo=dt.UTC
    )
    assert parse_date("21 Oct 2025 01:30:00 -0000") == dt.datetime(
        2025, 10, 21, 1, 30, tzinfo=dt.UTC
    )
    for bad in ["", "yesterday", "Mon, 99 Foo 2025 99:99:99 +0000", "Mon, 20 Oct 99999 10:00"]:
        assert parse_date(bad) is None


def test_missing_message_id_and_date_give_stable_synthetic_id():
    block = raw("From: a@example.com", "Subject: No id")
    first, second = parse_headers(block), parse_headers(block)
    assert first.date is None
    assert first.synthetic and first.message_id == ""
    assert first.key == second.key
    assert first.key.endswith(f"@{SYNTHETIC_DOMAIN}>")
    other = parse_headers(raw("From: a@example.com", "Subject: Another"))
    assert other.key != first.key


def test_overlong_message_id_is_hashed():
    long_id = "<" + "x" * 300 + "@example.com>"
    h = parse_headers(raw(f"Message-ID: {long_id}"))
    assert h.synthetic and h.message_id == long_id and len(h.key) < 100


def test_empty_header_block():
    h = parse_headers(b"")
    assert (h.from_address, h.subject, h.date) == ("", "", None)
    assert h.synthetic
