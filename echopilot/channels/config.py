"""configs/incidents.json and the environment: channels, routes, runbooks.

`load()` never raises: what cannot be used is listed in `Config.problems`
(the system checks report them at start-up) and left out, so a scan keeps
working with what is usable. Secrets are only ever named by environment
variable (`url_env`, `secret_env`, `token_env`), read at call time.
"""

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from echopilot.channels.base import Channel
from echopilot.channels.kinds import EmailChannel, SlackChannel, WebhookChannel
from echopilot.channels.telegram import TelegramChannel
from echopilot.config import ConfigError, read_json_config

FILENAME = "incidents.json"
TYPES = ("telegram", "slack", "webhook", "email")
SEVERITIES = ("MEDIUM", "HIGH")
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")
# The channel name used when no file configures channels (Telegram from its variables).
DEFAULT_TELEGRAM = "telegram"


@dataclass(frozen=True)
class Tier:
    after_minutes: float
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    index: int  # 1-based position in the file
    severity: str | None
    key_prefix: str | None
    cont: bool
    tiers: tuple[Tier, ...]

    def matches(self, severity: str, keys: list[str]) -> bool:
        if self.severity is not None and severity != self.severity:
            return False
        if self.key_prefix is not None:
            return any(k.startswith(self.key_prefix) for k in keys)
        return True


@dataclass
class Config:
    channels: dict[str, Channel] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    runbooks: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (check id, text)
    from_file: bool = False


def path() -> Path:
    return Path(settings.CONFIG_DIR) / FILENAME


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _env(spec: dict, key: str, name: str, config: Config, *, required: bool = True) -> str:
    var = spec.get(key)
    if var is None and not required:
        return ""
    if not isinstance(var, str) or not var:
        config.problems.append(("channels.E005", f"channel {name!r}: {key} must name a variable"))
        return ""
    value = os.environ.get(var, "")
    if not value:
        config.problems.append(
            ("channels.E005", f"channel {name!r}: environment variable {var} is not set")
        )
    return value


def _telegram(name: str, spec: dict, config: Config) -> Channel | None:
    if "token_env" in spec:
        token = _env(spec, "token_env", name, config)
    else:
        token = settings.TELEGRAM_BOT_TOKEN
        if not token:
            config.problems.append(
                ("channels.E005", f"channel {name!r}: TELEGRAM_BOT_TOKEN is not set")
            )
    chat = spec.get("chat_id") or settings.TELEGRAM_CHAT_ID
    if not chat or not isinstance(chat, str | int):
        config.problems.append(
            ("channels.E005", f"channel {name!r}: TELEGRAM_CHAT_ID (or chat_id) is not set")
        )
        return None
    if not token:
        return None
    return TelegramChannel(
        name, token=token, chat_id=str(chat), api_base=settings.TELEGRAM_API_BASE
    )


def _url(name: str, spec: dict, config: Config) -> tuple[str, bool]:
    """Return (url, whether it is a secret): `url_env` (secret) or `url`."""
    if spec["type"] == "slack" and "url" in spec:
        # A Slack incoming-webhook URL is itself the credential: only ever by variable name.
        config.problems.append(
            (
                "channels.E007",
                f"channel {name!r}: a Slack URL is a secret; name its variable in url_env,"
                " never an inline url",
            )
        )
        return "", True
    if "url" in spec and "url_env" not in spec:
        url = spec["url"] if isinstance(spec["url"], str) else ""
        secret = False
    else:
        url, secret = _env(spec, "url_env", name, config), True
    if url and not _http_url(url):
        config.problems.append(("channels.E004", f"channel {name!r}: the URL is not http(s)"))
        return "", secret
    return url, secret


def _channel(name: str, spec: Any, config: Config) -> Channel | None:
    if not isinstance(spec, dict) or spec.get("type") not in TYPES:
        config.problems.append(
            ("channels.E006", f"channel {name!r}: type must be one of {', '.join(TYPES)}")
        )
        return None
    kind = spec["type"]
    if kind == "telegram":
        return _telegram(name, spec, config)
    if kind == "email":
        to = spec.get("to")
        if (
            not isinstance(to, list)
            or not to
            or not all(isinstance(a, str) and "@" in a for a in to)
        ):
            config.problems.append(
                ("channels.E006", f"channel {name!r}: to must be a list of e-mail addresses")
            )
            return None
        sender = spec.get("from", "")
        return EmailChannel(name, to=list(to), sender=sender if isinstance(sender, str) else "")
    url, url_secret = _url(name, spec, config)
    if kind == "slack":
        return SlackChannel(name, url=url) if url else None
    secret = _env(spec, "secret_env", name, config)
    if not url or not secret:
        return None
    return WebhookChannel(name, url=url, secret=secret, url_is_secret=url_secret)


def _tier(n: int, tier: Any, where: str, config: Config) -> Tier | None:
    after = tier.get("after_minutes") if isinstance(tier, dict) else None
    names = tier.get("channels") if isinstance(tier, dict) else None
    if (
        not isinstance(after, int | float)
        or isinstance(after, bool)
        or not math.isfinite(after)
        or after < 0
    ):
        config.problems.append(
            ("channels.E003", f"{where} tier {n}: after_minutes must be 0 or more")
        )
        return None
    if not isinstance(names, list) or not names or not all(isinstance(c, str) for c in names):
        config.problems.append(("channels.E002", f"{where} tier {n} has no channels"))
        return None
    return Tier(float(after), tuple(names))


def _tiers(route: dict, where: str, config: Config) -> tuple[Tier, ...]:
    raw: Any
    if "channels" in route:
        raw = [{"after_minutes": 0, "channels": route["channels"]}]
    else:
        raw = route.get("tiers")
    if not isinstance(raw, list) or not raw:
        config.problems.append(("channels.E002", f"{where} has no channels"))
        return ()
    tiers: list[Tier] = []
    for n, spec in enumerate(raw, 1):
        tier = _tier(n, spec, where, config)
        if tier is None:
            return ()
        if tiers and tier.after_minutes <= tiers[-1].after_minutes:
            config.problems.append(
                ("channels.E003", f"{where}: tiers out of order (tier {n} is not later)")
            )
            return ()
        tiers.append(tier)
    return tuple(tiers)


def _route(index: int, route: Any, config: Config, known: set[str]) -> Route | None:
    where = f"route {index}"
    match = route.get("match", {}) if isinstance(route, dict) else None
    if not isinstance(match, dict) or set(match) - {"severity", "key_prefix"}:
        config.problems.append(
            ("channels.E006", f"{where}: match may hold only severity and key_prefix")
        )
        return None
    severity, prefix = match.get("severity"), match.get("key_prefix")
    if severity is not None and severity not in SEVERITIES:
        config.problems.append(("channels.E006", f"{where}: severity must be MEDIUM or HIGH"))
        return None
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        config.problems.append(("channels.E006", f"{where}: key_prefix must be a string"))
        return None
    tiers = _tiers(route, where, config)
    if not tiers:
        return None
    for name in sorted({c for t in tiers for c in t.channels} - known):
        config.problems.append(("channels.E001", f"{where} names unknown channel {name!r}"))
    return Route(index, severity, prefix, bool(route.get("continue", False)), tiers)


def _runbooks(raw: Any, config: Config) -> dict[str, str]:
    if raw is None:
        return {}
    ok = isinstance(raw, dict) and all(isinstance(v, str) and _http_url(v) for v in raw.values())
    if not ok:
        config.problems.append(("channels.E006", "runbooks must map key patterns to http(s) URLs"))
        return {}
    return dict(raw)


def _from_environment() -> Config:
    config = Config()
    if settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID:
        config.channels[DEFAULT_TELEGRAM] = TelegramChannel(
            DEFAULT_TELEGRAM,
            token=settings.TELEGRAM_BOT_TOKEN,
            chat_id=str(settings.TELEGRAM_CHAT_ID),
            api_base=settings.TELEGRAM_API_BASE,
        )
    return config


def load() -> Config:
    """Return the channels, routes and runbooks now configured (never raises)."""
    file = path()
    if not file.is_file():
        return _from_environment()
    config = Config(from_file=True)
    try:
        data = read_json_config(file)
    except ConfigError as exc:
        config.problems.append(("channels.E006", str(exc)))
        return config
    if not isinstance(data, dict) or set(data) - {"channels", "routes", "runbooks"}:
        config.problems.append(
            ("channels.E006", f"{file}: an object with channels, routes and runbooks")
        )
        return config
    channels, routes = data.get("channels", {}), data.get("routes", [])
    if not isinstance(channels, dict) or not isinstance(routes, list):
        config.problems.append(("channels.E006", f"{file}: channels an object, routes a list"))
        return config
    for name, spec in channels.items():
        if not NAME.match(name):
            config.problems.append(("channels.E006", f"channel name {name!r} is not usable"))
            continue
        channel = _channel(name, spec, config)
        if channel is not None:
            config.channels[name] = channel
    known = {n for n in channels if NAME.match(n)}
    for index, raw in enumerate(routes, 1):
        route = _route(index, raw, config, known)
        if route is not None:
            config.routes.append(route)
    config.runbooks = _runbooks(data.get("runbooks"), config)
    return config
