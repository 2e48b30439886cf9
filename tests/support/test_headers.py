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


def test_malformed_message_id_gets_synthetic_key():
    for bad in ["<>", "not an id", "<no-at-sign>", '"quoted"', "<a@b", "a@b", "<<a@b>>"]:
        h = parse_headers(raw("Subject: same", f"Message-ID: {bad}"), uidvalidity=7, uid=1)
        assert h.synthetic, bad
        assert h.key.endswith(f"@{SYNTHETIC_DOMAIN}>") and h.key != h.message_id
        assert h.message_id == "".join(bad.split())  # the raw value is kept
        other = parse_headers(raw("Subject: same", f"Message-ID: {bad}"), uidvalidity=7, uid=2)
        assert other.key != h.key  # two messages, two keys
    h = parse_headers(raw("Message-ID:  <abc@example.com>  "))
    assert (h.key, h.synthetic) == ("<abc@example.com>", False)


def test_empty_header_block():
    h = parse_headers(b"")
    assert (h.from_address, h.subject, h.date) == ("", "", None)
    assert h.synthetic


def test_charsets_that_cannot_decode_fall_back_to_utf8():
    # Each of these raised UnicodeError, which used to crash every digest.
    assert decode_words("=?undefined?q?x?=") == "x"
    assert decode_words("=?idna?q?x?=") == "x"  # idna supports no error handler
    assert decode_words("=?punycode?q?=E9t=C3=A9?=") == "\ufffdté"  # 8-bit punycode
    # Python's escape codecs are no MIME charset: backslashes stay backslashes.
    assert decode_words("=?unicode_escape?q?\\u00e9?=") == "\\u00e9"


def test_plain_text_between_encoded_words_is_never_read_as_escapes():
    assert decode_words("=?utf-8?q?Re:?= \\ud800 and \\u00e9") == "Re: \\ud800 and \\u00e9"
    assert decode_words("Grüße 日本 =?utf-8?q?Stra=C3=9Fe?= Köln") == "Grüße 日本 Straße Köln"
    latin1 = "Subject: Grüße =?utf-8?q?x?= Köln\r\n\r\n".encode("latin-1")
    assert parse_headers(latin1).subject == "Grüße x Köln"


def test_control_characters_and_surrogates_are_removed():
    assert parse_headers(raw("Subject: =?utf-8?q?a=00b=07c=0Ad?=")).subject == "abc d"
    assert parse_headers(raw("Subject: =?utf-7?q?x+2AA-y?=")).subject == "xy"  # lone surrogate
    h = parse_headers(
        b"From: =?utf-8?q?Ann=00?= <ann\x00@example.com>\r\n"
        b"Subject: plain\x01\ttext\r\nMessage-ID: <id\x00@example.com>\r\n\r\n"
    )
    assert (h.from_name, h.from_address) == ("Ann", "ann@example.com")
    assert (h.subject, h.key) == ("plain\ttext", "<id@example.com>")  # tab kept


def test_synthetic_id_depends_on_uid_and_uidvalidity():
    block = raw("From: a@example.com", "Subject: same", "Date: Mon, 20 Oct 2025 17:00:00 +0000")
    one = parse_headers(block, uidvalidity=7, uid=1)
    assert parse_headers(block, uidvalidity=7, uid=1).key == one.key  # stable
    assert parse_headers(block, uidvalidity=7, uid=2).key != one.key
    assert parse_headers(block, uidvalidity=8, uid=1).key != one.key
    with_id = raw("Message-ID: <m@example.com>")
    assert parse_headers(with_id, uidvalidity=7, uid=1).key == "<m@example.com>"
