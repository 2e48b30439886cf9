from support.checks import imap_settings


def ids(settings) -> list[str]:
    return [m.id for m in imap_settings(None)]


def test_defaults_are_clean(settings):
    assert ids(settings) == []


def test_port_out_of_range(settings):
    settings.IMAP_PORT = 70000
    assert ids(settings) == ["support.E001"]
    settings.IMAP_PORT = -1
    assert ids(settings) == ["support.E001"]


def test_timeout_and_mailbox(settings):
    settings.IMAP_TIMEOUT = 0.0
    settings.IMAP_MAILBOX = "Boîte"
    assert ids(settings) == ["support.E003", "support.E004"]


def test_partial_credentials_warn(settings):
    settings.IMAP_HOST = "imap.example.com"
    assert ids(settings) == ["support.W001"]


def test_plain_imap_to_remote_host_warns(settings):
    settings.IMAP_HOST = "imap.example.com"
    settings.IMAP_USER = "support@example.com"
    settings.IMAP_PASS = "secret-value"
    settings.IMAP_SSL = False
    assert ids(settings) == ["support.W002"]
    settings.IMAP_HOST = "127.0.0.1"
    assert ids(settings) == []


def test_imap_timeout_must_fit_below_the_web_timeout(settings):
    settings.WEB_TIMEOUT = 30
    settings.IMAP_TIMEOUT = 25.0
    assert ids(settings) == []
    settings.IMAP_TIMEOUT = 25.5
    (message,) = imap_settings(None)
    assert message.id == "support.E005" and "WEB_TIMEOUT - 5 = 25" in message.msg
    settings.WEB_TIMEOUT = 90
    settings.IMAP_TIMEOUT = 60.0  # the case: passes once the web timeout allows it
    assert ids(settings) == []
