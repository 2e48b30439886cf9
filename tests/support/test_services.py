"""The digest against a real Dovecot server."""

import json

import pytest

from echopilot.exceptions import Invalid
from support.models import MAX_LIMIT, Digest, DigestItem, Message
from support.services import run_digest
from tests.conftest import read_ndjson
from tests.support.dovecot import DovecotServer, make_message

pytestmark = pytest.mark.django_db


def test_seed_shape(mailbox, log_dir, digest):
    mailbox.deliver(
        [
            make_message(
                sender="customer@example.com",
                subject="Need help with API",
                date="Mon, 20 Oct 2025 17:00:00 +0000",
                message_id="<abc@example.com>",
            )
        ]
    )
    body = digest().to_dict()
    assert body["ok"] is True and body["dry_run"] is False and body["count"] == 1
    assert body["items"] == [
        {
            "from": "customer@example.com",
            "from_name": "",
            "subject": "Need help with API",
            "date": "2025-10-20T17:00:00Z",
            "message_id": "<abc@example.com>",
            "new": True,
            "urgent": False,
        }
    ]
    assert (body["new_count"], body["urgent_count"], body["unseen"]) == (1, 0, 1)
    assert Digest.objects.get().uidvalidity  # recorded from EXAMINE


def test_more_than_limit_returns_newest_first(mailbox, digest):
    mailbox.deliver([make_message(subject=f"message {i}") for i in range(25)])
    result = digest()
    assert result.count == 20 and result.unseen == 25
    assert [i["subject"] for i in result.items] == [f"message {i}" for i in range(24, 4, -1)]
    uids = list(
        DigestItem.objects.filter(digest_id=result.digest_id)
        .order_by("position")
        .values_list("uid", flat=True)
    )
    assert uids == list(range(25, 5, -1))
    assert [i["subject"] for i in digest(limit=3).items] == [
        "message 24",
        "message 23",
        "message 22",
    ]


def test_seen_messages_are_excluded(mailbox, digest):
    mailbox.deliver([make_message(subject="old, already read")], seen=True)
    mailbox.deliver([make_message(subject="unread one")])
    mailbox.deliver([make_message(subject="read later")], seen=True)
    result = digest()
    assert [i["subject"] for i in result.items] == ["unread one"]
    assert result.unseen == 1


def test_mailbox_is_unchanged_afterwards(mailbox, digest):
    mailbox.deliver([make_message(subject=f"m{i}") for i in range(5)])
    mailbox.deliver([make_message(subject="seen")], seen=True)
    before = mailbox.flags()
    digest()
    digest(limit=100)
    after = mailbox.flags()
    assert sorted(after) == sorted(before) == [1, 2, 3, 4, 5, 6]  # nothing moved or deleted
    assert [uid for uid, flags in after.items() if "\\Seen" in flags] == [6]
    assert not any("\\Deleted" in f for f in after.values())


def test_encoded_and_non_ascii_headers(mailbox, digest):
    mailbox.deliver(
        [
            make_message(
                sender='"=?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?=" <jose@example.es>',
                subject="=?ISO-8859-1?Q?Probl=E8me?= with =?UTF-8?B?w6fDoA==?=\r\n folded",
                date="Tue, 21 Oct 2025 01:30:00 +0530",
            ),
            make_message(sender="Jürgen <j@example.de>", subject="Grüße aus Köln"),
        ]
    )
    items = digest().items
    assert items[0]["from"] == "j@example.de" and items[0]["from_name"] == "Jürgen"
    assert items[0]["subject"] == "Grüße aus Köln"
    assert items[1]["from_name"] == "José Pérez"
    assert items[1]["subject"] == "Problème with çà folded"
    assert items[1]["date"] == "2025-10-20T20:00:00Z"
    stored = Message.objects.get(from_address="jose@example.es")
    assert stored.subject == "Problème with çà folded"


def test_missing_message_id_and_date_still_listed(mailbox, digest):
    mailbox.deliver(
        [
            make_message(subject="no id", message_id="", date=None),
            make_message(subject="bad date", date="not a date at all"),
            make_message(subject=None, sender=None, message_id="", date=None),
        ]
    )
    first = digest()
    assert first.count == 3 and first.new_count == 3
    empty, bad_date, no_id = first.items
    assert no_id["date"] is None and no_id["message_id"].endswith("@synthetic.echopilot.invalid>")
    assert bad_date["date"] is None and bad_date["message_id"].startswith("<msg-")
    assert (empty["from"], empty["subject"]) == ("", "")
    # The synthetic id is stable: the next digest recognises the same messages.
    second = digest()
    assert [i["message_id"] for i in second.items] == [i["message_id"] for i in first.items]
    assert second.new_count == 0
    assert Message.objects.filter(synthetic=True).count() == 2


def test_second_digest_marks_nothing_new_and_then_only_the_new_mail(mailbox, log_dir, digest):
    mailbox.deliver([make_message(subject="first"), make_message(subject="second")])
    one = digest()
    two = digest(actor="schedule")
    assert [i["new"] for i in one.items] == [True, True] and one.new_count == 2
    assert [i["new"] for i in two.items] == [False, False] and two.new_count == 0
    mailbox.deliver([make_message(subject="third")])
    three = digest(actor="schedule")
    assert [(i["subject"], i["new"]) for i in three.items] == [
        ("third", True),
        ("second", False),
        ("first", False),
    ]
    first = Message.objects.get(subject="first")
    assert first.seen_count == 3 and first.first_digest_id == one.digest_id
    assert first.first_seen < first.last_seen
    assert set(first.digests.values_list("pk", flat=True)) == {
        one.digest_id,
        two.digest_id,
        three.digest_id,
    }
    assert list(Digest.objects.order_by("id").values_list("new_count", flat=True)) == [2, 0, 1]
    lines = read_ndjson(log_dir, "support_digest")
    assert [line["new_count"] for line in lines] == [2, 0, 1]
    assert all(line["type"] == "digest" and line["ts_iso"].endswith("Z") for line in lines)
    assert [i["subject"] for i in lines[2]["items"]] == ["third", "second", "first"]
    latest = json.loads((log_dir / "support_digest.json").read_text())
    assert latest["digest_id"] == three.digest_id and latest["count"] == 3


def test_duplicate_message_id_listed_once(mailbox, digest):
    mailbox.deliver([make_message(subject="copy", message_id="<dup@example.com>")] * 2)
    result = digest()
    assert [i["message_id"] for i in result.items] == ["<dup@example.com>"]
    assert result.unseen == 2


def test_odd_headers_do_not_sink_the_digest(mailbox, log_dir, digest):
    subjects = [
        "=?undefined?q?x?=",  # UnicodeError: undefined encoding
        "=?idna?q?x?=",  # UnicodeError: no error handler
        "=?punycode?q?=E9?=",  # UnicodeError on 8-bit bytes
        "=?utf-8?q?Re:?= \\ud800",  # was a lone surrogate: SQLite refused it
        "=?utf-8?q?Re:?= \\u00e9",  # was silently turned into é
        "=?utf-8?q?a=00b?=",  # NUL: PostgreSQL refused it
    ]
    mailbox.deliver([make_message(subject=s) for s in subjects])
    result = digest()
    assert result.ok and result.count == 6 and result.new_count == 6
    expected = ["x", "x", "\ufffd", "Re: \\ud800", "Re: \\u00e9", "ab"]
    assert [i["subject"] for i in result.items] == expected[::-1]
    stored = Message.objects.filter(entries__digest_id=result.digest_id)
    assert sorted(stored.values_list("subject", flat=True)) == sorted(expected)
    assert read_ndjson(log_dir, "support_digest")[-1]["count"] == 6
    assert digest().new_count == 0  # and the next hourly run is fine too


def test_message_that_cannot_be_parsed_gets_placeholders(mailbox, monkeypatch, digest):
    from support import services

    real = services.parse_headers

    def parse(raw, **kwargs):
        if b"poison" in raw:  # stands in for a parser bug no input triggers today
            raise RuntimeError("parser bug")
        return real(raw, **kwargs)

    monkeypatch.setattr(services, "parse_headers", parse)
    mailbox.deliver([make_message(subject="before"), make_message(subject="poison")])
    mailbox.deliver([make_message(subject="after")])
    result = digest()
    assert [i["subject"] for i in result.items] == ["after", "(undecodable subject)", "before"]
    bad = result.items[1]
    assert (bad["from"], bad["date"], bad["new"]) == ("", None, True)
    assert bad["message_id"].endswith("@synthetic.echopilot.invalid>")
    again = digest()
    assert again.items[1]["message_id"] == bad["message_id"] and again.new_count == 0
    assert Message.objects.get(subject="(undecodable subject)").synthetic


def test_identical_messages_without_message_id_stay_distinct(mailbox, digest):
    same = make_message(subject="Printer on fire", message_id="")
    mailbox.deliver([same, same])
    first = digest()
    assert first.count == 2 and first.new_count == 2
    keys = [i["message_id"] for i in first.items]
    assert len(set(keys)) == 2
    second = digest()  # the same messages keep their ids
    assert [i["message_id"] for i in second.items] == keys and second.new_count == 0
    assert Message.objects.filter(synthetic=True).count() == 2


def test_messages_with_empty_message_id_stay_distinct(mailbox, digest):
    mailbox.deliver(
        [
            make_message(subject="Login broken", message_id="<>"),
            make_message(subject="Invoice wrong", message_id="<>"),
        ]
    )
    first = digest()
    assert [i["subject"] for i in first.items] == ["Invoice wrong", "Login broken"]
    assert [i["new"] for i in first.items] == [True, True] and first.new_count == 2
    keys = [i["message_id"] for i in first.items]
    assert len(set(keys)) == 2 and all(k.endswith("@synthetic.echopilot.invalid>") for k in keys)
    assert set(Message.objects.values_list("key", flat=True)) == set(keys)
    assert set(Message.objects.values_list("message_id", flat=True)) == {"<>"}
    second = digest()
    assert [i["message_id"] for i in second.items] == keys
    assert [i["new"] for i in second.items] == [False, False] and second.new_count == 0


def test_urgent_keywords(mailbox, settings, digest):
    mailbox.deliver(
        [
            make_message(subject="Site DOWN since 9"),
            make_message(subject="Cannot download invoice"),
            make_message(subject="Please process my refunds"),
            make_message(subject="Order cancelled twice"),
            make_message(subject="Question about pricing"),
        ]
    )
    result = digest()
    urgent = {i["subject"]: i["urgent"] for i in result.items}
    assert urgent == {
        "Site DOWN since 9": True,
        "Cannot download invoice": False,
        "Please process my refunds": True,
        "Order cancelled twice": True,
        "Question about pricing": False,
    }
    assert result.urgent_count == 3
    assert Digest.objects.get(pk=result.digest_id).urgent_count == 3
    settings.SUPPORT_URGENT_KEYWORDS = ["pricing"]
    again = digest()
    assert [i["subject"] for i in again.items if i["urgent"]] == ["Question about pricing"]
    assert Message.objects.get(subject="Question about pricing").urgent is True


def test_dry_run_without_credentials_stores_no_messages(log_dir, digest):
    result = digest()
    body = result.to_dict()
    assert body["dry_run"] is True and body["dry_run_reason"] == "no_credentials"
    assert body["count"] == 3 and all(i["sample"] is True for i in body["items"])
    assert "sample" in body["note"].lower() and body["new_count"] == 0
    assert Message.objects.count() == 0 and DigestItem.objects.count() == 0
    row = Digest.objects.get()
    assert row.dry_run and row.ok and row.count == 3
    assert read_ndjson(log_dir, "support_digest")[0]["dry_run"] is True
    assert digest(limit=1).count == 1


def test_forced_dry_run_reads_no_mailbox(mailbox, digest):
    mailbox.deliver([make_message(subject="real")])
    result = digest(dry_run=True)
    assert result.dry_run and result.dry_run_reason == "forced"
    assert "real" not in [i["subject"] for i in result.items]
    assert Message.objects.count() == 0
    assert digest().items[0]["new"] is True  # the dry run announced nothing


def _assert_failed(result, code, log_dir, password):
    body = result.to_dict()
    assert body["ok"] is False and body["error"] == code and body["detail"]
    row = Digest.objects.get(pk=result.digest_id)
    assert (row.ok, row.error) == (False, code)
    line = read_ndjson(log_dir, "support_digest")[-1]
    assert line["ok"] is False and line["error"] == code
    latest = (log_dir / "support_digest.json").read_text()
    for text in (body["detail"], row.detail, json.dumps(line), latest):
        assert password not in text
    assert Message.objects.count() == 0


def test_wrong_password(mailbox, settings, log_dir, digest):
    settings.IMAP_PASS = "wrong-Passw0rd-xyz"
    result = digest()
    _assert_failed(result, "imap_auth", log_dir, "wrong-Passw0rd-xyz")
    assert "support@example.com" in result.detail


def test_stopped_server(mailbox, settings, closed_port, log_dir, digest):
    settings.IMAP_PORT = closed_port
    result = digest()
    _assert_failed(result, "imap_connect", log_dir, mailbox.password)
    assert str(closed_port) in result.detail


def test_silent_server_times_out(mailbox, settings, silent_port, log_dir, digest):
    settings.IMAP_PORT = silent_port
    settings.IMAP_TIMEOUT = 0.3
    result = digest()
    _assert_failed(result, "imap_timeout", log_dir, mailbox.password)


def test_a_trickling_server_is_cut_at_the_deadline_of_the_whole_digest(
    mailbox, settings, trickling_port, log_dir, digest
):
    settings.IMAP_PORT = trickling_port
    settings.IMAP_TIMEOUT = 1.0
    result = digest()
    _assert_failed(result, "imap_timeout", log_dir, mailbox.password)
    assert "within 1s" in result.detail


def test_tls_to_a_plain_server(mailbox, settings, log_dir, digest):
    settings.IMAP_SSL = True
    result = digest()
    _assert_failed(result, "imap_connect", log_dir, mailbox.password)
    assert "TLS" in result.detail


def test_other_mailbox_with_space_in_its_name(mailbox, settings, digest):
    conn = mailbox.connect()
    try:
        assert conn.create('"Support Queue"')[0] == "OK"
    finally:
        conn.logout()
    mailbox.append([make_message(subject="in the queue")], mailbox='"Support Queue"')
    mailbox.deliver([make_message(subject="in the inbox")])
    settings.IMAP_MAILBOX = "Support Queue"
    result = digest()
    assert [i["subject"] for i in result.items] == ["in the queue"]
    assert result.to_dict()["mailbox"] == "Support Queue"
    assert "\\Seen" not in mailbox.flags('"Support Queue"')[1]


def test_missing_mailbox(mailbox, settings, log_dir, digest):
    settings.IMAP_MAILBOX = "Does Not Exist"
    result = digest()
    _assert_failed(result, "imap_mailbox", log_dir, mailbox.password)
    assert "Does Not Exist" in result.detail


def test_password_in_server_text_is_masked(mailbox, settings, log_dir, digest):
    # A user name that contains the password would echo it back in the detail.
    settings.IMAP_PASS = "hunter2-secret"
    settings.IMAP_USER = "hunter2-secret@example.com"
    result = digest()
    _assert_failed(result, "imap_auth", log_dir, "hunter2-secret")
    assert "***" in result.detail


@pytest.mark.external  # starts a second Dovecot of its own
def test_non_ascii_password(mailbox, settings, digest):
    # LOGIN is ASCII-only; the digest falls back to AUTHENTICATE PLAIN in UTF-8.
    server = DovecotServer.start(user="intl@example.com", password="pässwörd-ümlaut")
    try:
        server.deliver([make_message(subject="über")])
        settings.IMAP_PORT = server.port
        settings.IMAP_USER, settings.IMAP_PASS = server.user, server.password
        result = digest()
        assert result.ok and [i["subject"] for i in result.items] == ["über"]
        settings.IMAP_PASS = "pässwörd-falsch"
        failed = digest()
    finally:
        server.stop()
    assert failed.error == "imap_auth" and "pässwörd" not in failed.detail
    assert failed.detail.endswith("refused: [AUTHENTICATIONFAILED] Authentication failed.")


@pytest.mark.parametrize("limit", [0, 101, "5", True, 5.0])
def test_service_refuses_bad_limit(limit):
    with pytest.raises(Invalid) as refused:
        run_digest(actor="cli", limit=limit)
    assert refused.value.code == "invalid"
    assert refused.value.detail == f"limit must be an integer from 1 to {MAX_LIMIT}"
    assert Digest.objects.count() == 0
