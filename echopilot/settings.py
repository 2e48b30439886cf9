"""Settings for EchoPilot Ops, read from the environment (and `.env` if present).

Every variable is listed with a comment in `.env.example`. Defaults suit a
single machine on plain HTTP; the production variables in the README make
`manage.py check --deploy` clean. Values that cannot work are reported by the
system checks in `echopilot.checks`, so start-up fails with a clear message.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

# The process environment wins over `.env`; tests point this at /dev/null.
_env_file = BASE_DIR / Path(os.environ.get("ECHOPILOT_ENV_FILE") or ".env")
if _env_file.is_file():
    environ.Env.read_env(_env_file, overwrite=False)


def _bool(name, default):
    """Read a boolean; a value that is not one is kept as text for the checks."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    INVALID_SETTINGS[name] = f"{name}={raw!r} is not a boolean (use 1/0, true/false)"
    return default


def _str(name, default=""):
    """Read a text value; an empty value means the default."""
    return os.environ.get(name) or default


def _path(name, default):
    """Read a path; a relative one is taken from the project directory."""
    return BASE_DIR / Path(os.environ.get(name) or default)


def _list(name, default):
    raw = os.environ.get(name)
    if not raw:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def _float(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        INVALID_SETTINGS[name] = f"{name}={raw!r} is not a number"
        return default


def _int(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        INVALID_SETTINGS[name] = f"{name}={raw!r} is not an integer"
        return default


# Environment values that could not be parsed; `echopilot.checks` reports them.
INVALID_SETTINGS: dict[str, str] = {}

DEBUG = _bool("DEBUG", False)
SECRET_KEY = _str("SECRET_KEY", "")
if not SECRET_KEY:
    # A per-process random key keeps a fresh checkout runnable; `make run`
    # writes a persistent one to `.env`, and the check below flags production.
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = get_random_secret_key()
    SECRET_KEY_FROM_ENV = False
else:
    SECRET_KEY_FROM_ENV = True

ALLOWED_HOSTS = _list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS", [])

# Comma-separated list; several keys allow rotation. Never logged.
DASHBOARD_KEY = _str("DASHBOARD_KEY", "")

LOG_DIR = _path("ECHOPILOT_LOG_DIR", BASE_DIR / "logs")
CONFIG_DIR = _path("ECHOPILOT_CONFIG_DIR", BASE_DIR / "configs")
VAR_DIR = _path("ECHOPILOT_VAR_DIR", BASE_DIR / "var")
BASE_URL = _str("ECHOPILOT_BASE_URL", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "echopilot",
    "support",
    "flags",
    "experiments",
    "costs",
    "incidents",
]

MIDDLEWARE = [
    # Outermost: counts every response by route name and logs it (LOG_FORMAT=json).
    "echopilot.metrics.RequestMetrics",
    # 431 for over 8 KB of cookies, before anything parses them (docs/security.md).
    "echopilot.middleware.CookieGuard",
    # Cache-Control: no-store on the API; Content-Security-Policy on every response.
    "echopilot.middleware.SecurityHeaders",
    "django.middleware.security.SecurityMiddleware",
    # JSON 413/400 under /api/ for an over-limit body or a query that is not UTF-8.
    "echopilot.middleware.ApiRequestGuard",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Counts API response bytes for the cost report (costs issue).
    "costs.middleware.BandwidthMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "echopilot.urls"
WSGI_APPLICATION = "echopilot.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
_default_sqlite = f"sqlite:///{VAR_DIR / 'echopilot.sqlite3'}"
_SUPPORTED_DATABASES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
try:
    DATABASES = {"default": environ.Env.db_url_config(_str("DATABASE_URL", _default_sqlite))}
    if DATABASES["default"]["ENGINE"] not in _SUPPORTED_DATABASES:
        raise ValueError("use sqlite:///path or postgres://user@host:port/name")
except Exception as exc:
    INVALID_SETTINGS["DATABASE_URL"] = f"DATABASE_URL cannot be used: {exc}"
    DATABASES = {"default": environ.Env.db_url_config(_default_sqlite)}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write
    # lock at BEGIN so two writers queue on the busy timeout instead of one
    # failing with "database is locked" when it upgrades a read lock.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": _int("SQLITE_BUSY_TIMEOUT", 30),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
        ),
    }
    # A file, not memory: subprocesses started by tests share the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("ECHOPILOT_TEST_DB", str(VAR_DIR / "test_echopilot.sqlite3"))
    }
else:
    if os.environ.get("ECHOPILOT_TEST_DB"):
        DATABASES["default"]["TEST"] = {"NAME": os.environ["ECHOPILOT_TEST_DB"]}

# Persistent connections: a new SQLite connection re-runs the PRAGMAs above.
DATABASES["default"]["CONN_MAX_AGE"] = _int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Off on purpose: with IMMEDIATE transactions every atomic block takes the
# SQLite write lock, so services open their own short transactions instead.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue ---------------------------------------------------
# gunicorn's worker timeout (bin/run passes it): every upstream call made inside a
# request has a deadline below it (IMAP_TIMEOUT <= WEB_TIMEOUT - 5).
WEB_TIMEOUT = _int("WEB_TIMEOUT", 30)
REDIS_URL = _str("REDIS_URL", "")
# Every Redis call gives up after REDIS_TIMEOUT seconds; after a failure Redis
# is skipped for REDIS_BREAKER_SECONDS and callers fall back (echopilot.cache).
REDIS_TIMEOUT = _float("REDIS_TIMEOUT", 0.25)
REDIS_BREAKER_SECONDS = _float("REDIS_BREAKER_SECONDS", 5.0)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # This process's own memory: the fallback of counters when Redis is down.
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
}
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "echopilot.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "echopilot",
    }

Q_CLUSTER = {
    "name": _str("Q_CLUSTER_NAME", "echopilot"),
    "workers": _int("Q_WORKERS", 2),
    "timeout": _int("Q_TIMEOUT", 300),
    # A task not acknowledged (its worker died) is handed out again after
    # `retry` seconds; it must exceed timeout, or a long task runs twice.
    "retry": _int("Q_RETRY", _int("Q_TIMEOUT", 300) + 60),
    "max_attempts": 3,
    # Keep every successful task: the cost report measures compute from them
    # (the daily cost task prunes records older than 35 days).
    "save_limit": 0,
    "catch_up": False,
    "poll": 1,
    "label": "Tasks",
}
# The task queue is always the ORM broker on the project's database, even with
# Redis: it acknowledges a task only when it finished, so a run whose worker
# was killed is retried (Django-Q2's Redis broker loses it). Redis stays the
# cache and the flag stamps.
Q_CLUSTER["orm"] = "default"

# --- Auth, i18n, static -----------------------------------------------------
# Admin logins: 10 failures per username or client address in 15 minutes lock
# it for 15 minutes (echopilot.security).
AUTHENTICATION_BACKENDS = ["echopilot.security.RateLimitedModelBackend"]
# Reverse proxies in front that append the client to X-Forwarded-For; 0: trust
# REMOTE_ADDR only (login limits and API throttles key on the client address).
TRUSTED_PROXY_COUNT = _int("TRUSTED_PROXY_COUNT", 0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The console shows every time one way, in UTC: 2026-11-27 03:52 UTC. Django 5
# prefers the locale's formats to these settings, so the same values are also
# the format module echopilot/formats/en/formats.py.
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = r"Y-m-d H:i \U\T\C"
DATE_FORMAT = SHORT_DATE_FORMAT = "Y-m-d"
FORMAT_MODULE_PATH = ["echopilot.formats"]

STATIC_URL = "static/"
# Only needed for `collectstatic`; WhiteNoise serves from the apps otherwise.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Security: plain-HTTP defaults, each switchable by environment -----------
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Check ids an operator has acknowledged, e.g. echopilot.W101 until the interpreter is upgraded.
SILENCED_SYSTEM_CHECKS: list[str] = _list("SILENCED_SYSTEM_CHECKS", [])

# --- REST framework and API docs --------------------------------------------
API_THROTTLE_RATE = _str("API_THROTTLE_RATE", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["echopilot.auth.DashKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["echopilot.auth.HasDashKey"],
    "DEFAULT_THROTTLE_CLASSES": ["echopilot.auth.DashKeyThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["echopilot.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["echopilot.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "echopilot.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "echopilot.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # X-Forwarded-For is trusted only as far as TRUSTED_PROXY_COUNT says.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "EchoPilot Ops API",
    "DESCRIPTION": "Support digest, feature flags, experiments, costs and incidents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "echopilot.schema.add_error_responses",
    ],
}

# --- Logging: to stderr, with secrets masked in every record -----------------
# text (human-readable) or json: one JSON object per line (echopilot.logs).
LOG_FORMAT = _str("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    INVALID_SETTINGS["LOG_FORMAT"] = f"LOG_FORMAT={LOG_FORMAT!r} is not text or json"
    LOG_FORMAT = "text"
LOG_LEVEL = _str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "echopilot.secrets.RedactFilter"}},
    "formatters": {"json": {"()": "echopilot.logs.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact"],
            "formatter": "json" if LOG_FORMAT == "json" else None,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Request lines can carry URLs with tokens; keep them at WARNING.
        "django.server": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Django-Q2 brings its own plain handler unless its logger has one.
        **(
            {"django-q": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}}
            if LOG_FORMAT == "json"
            else {}
        ),
    },
}

# --- Metrics (GET /metrics, echopilot.metrics) -------------------------------
# Off: no request is counted and /metrics answers 404.
METRICS_ENABLED = _bool("METRICS_ENABLED", True)
# Where every process writes its figures (prometheus_client multiprocess mode);
# bin/run creates and empties one. Unset: /metrics shows this process only.
PROMETHEUS_MULTIPROC_DIR = _str("PROMETHEUS_MULTIPROC_DIR", "")

# --- App settings (read by the apps at call time as settings.X) ---------------
# support: IMAP digest. No host/user/password means dry-run.
IMAP_HOST = _str("IMAP_HOST", "")
IMAP_PORT = _int("IMAP_PORT", 0)  # 0: 993 with SSL, 143 without
IMAP_USER = _str("IMAP_USER", "")
IMAP_PASS = _str("IMAP_PASS", "")
IMAP_SSL = _bool("IMAP_SSL", True)
IMAP_MAILBOX = _str("IMAP_MAILBOX", "INBOX")
IMAP_TIMEOUT = _float("IMAP_TIMEOUT", 20.0)
SUPPORT_URGENT_KEYWORDS = _list(
    "SUPPORT_URGENT_KEYWORDS", ["urgent", "down", "outage", "refund", "cancel", "broken"]
)

# costs: prices, budget, what is measured.
COST_STORAGE_PER_GB_MONTH = _float("COST_STORAGE_PER_GB_MONTH", 0.023)
COST_CPU_PER_HOUR = _float("COST_CPU_PER_HOUR", 0.05)
COST_BANDWIDTH_PER_GB = _float("COST_BANDWIDTH_PER_GB", 0.09)
COST_ALWAYS_ON_HOURS_PER_DAY = _float("COST_ALWAYS_ON_HOURS_PER_DAY", 0.0)
COST_CURRENCY = _str("COST_CURRENCY", "USD")
COST_MONTHLY_BUDGET_USD = _float("COST_MONTHLY_BUDGET_USD", None)
COST_BUDGET_THRESHOLDS = _str("COST_BUDGET_THRESHOLDS", "50,80,100")
# Extra directories to measure, comma-separated (default: logs, backups, DB).
COST_STORAGE_DIRS = _list("COST_STORAGE_DIRS", [])
BACKUP_DIR = _path("ECHOPILOT_BACKUP_DIR", BASE_DIR / "backups")

# incidents: thresholds, sources, Telegram.
SLO_P95_MS = _float("SLO_P95_MS", 1000.0)
SLO_SUCCESS_MIN = _float("SLO_SUCCESS_MIN", 0.99)
OPS_WARNING_WINDOW_MINUTES = _float("OPS_WARNING_WINDOW_MINUTES", 10.0)
INCIDENT_REPEAT_MINUTES = _float("INCIDENT_REPEAT_MINUTES", 240.0)
INCIDENT_SLO_REPORT_PATH = _str("INCIDENT_SLO_REPORT_PATH", "")
INCIDENT_PAYOUT_RECON_PATH = _str("INCIDENT_PAYOUT_RECON_PATH", "")
INCIDENT_OPS_SENTINEL_PATH = _str("INCIDENT_OPS_SENTINEL_PATH", "")
# Bytes a scan reads at most from the end of the sentinel file (reported `truncated`).
INCIDENT_OPS_SENTINEL_MAX_BYTES = _int("INCIDENT_OPS_SENTINEL_MAX_BYTES", 8 * 1024 * 1024)
INCIDENT_PRODUCTION_ALERTS_PATH = _str("INCIDENT_PRODUCTION_ALERTS_PATH", "")
TELEGRAM_BOT_TOKEN = _str("TELEGRAM_BOT_TOKEN", "")
TELEGRAM_CHAT_ID = _str("TELEGRAM_CHAT_ID", "")
TELEGRAM_API_BASE = _str("TELEGRAM_API_BASE", "https://api.telegram.org")
TELEGRAM_TIMEOUT = _float("TELEGRAM_TIMEOUT", 10.0)
INCIDENT_FLAP_MINUTES = _float("INCIDENT_FLAP_MINUTES", 30.0)
# e-mail channel (echopilot.channels): Django's SMTP backend.
EMAIL_HOST = _str("EMAIL_HOST", "localhost")
EMAIL_PORT = _int("EMAIL_PORT", 25)
EMAIL_HOST_USER = _str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = _str("DEFAULT_FROM_EMAIL", "echopilot@localhost")

# --- Data lifecycle: retention (days), NDJSON rotation, backups ---------------
RETENTION_TASK_DAYS = _int("RETENTION_TASK_DAYS", 35)
RETENTION_DIGEST_DAYS = _int("RETENTION_DIGEST_DAYS", 180)
RETENTION_COST_REPORT_DAYS = _int("RETENTION_COST_REPORT_DAYS", 730)
RETENTION_INCIDENT_ALERT_DAYS = _int("RETENTION_INCIDENT_ALERT_DAYS", 365)
RETENTION_EXPERIMENT_DATA_DAYS = _int("RETENTION_EXPERIMENT_DATA_DAYS", 365)
RETENTION_DELETED_FLAG_HISTORY_DAYS = _int("RETENTION_DELETED_FLAG_HISTORY_DAYS", 365)
RETENTION_FLAG_USAGE_DAYS = _int("RETENTION_FLAG_USAGE_DAYS", 400)
RETENTION_FLAG_SCHEDULE_DAYS = _int("RETENTION_FLAG_SCHEDULE_DAYS", 365)
# A stream's NDJSON file is rotated past this size (MB, 10**6 bytes; fractions allowed).
LOG_MAX_MB = _float("ECHOPILOT_LOG_MAX_MB", 100.0)
LOG_KEEP = _int("ECHOPILOT_LOG_KEEP", 10)
LOG_COMPRESS = _bool("ECHOPILOT_LOG_COMPRESS", False)
BACKUP_KEEP = _int("BACKUP_KEEP", 7)
# The file read above; `check --deploy` warns when others may read it.
ENV_FILE = _env_file

# Values never to be written to a log, NDJSON line, response or admin page.
SECRET_SETTINGS = (
    "DASHBOARD_KEY",
    "IMAP_PASS",
    "TELEGRAM_BOT_TOKEN",
    "SECRET_KEY",
    "EMAIL_HOST_PASSWORD",
)
