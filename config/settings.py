"""Herald settings: one module, driven by environment variables (see .env.example)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HERALD_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("HERALD_ALLOW_INSECURE_KEY"):
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for development).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Whether PUBLIC_BASE_URL was set: if not (or empty), pages that show a webhook address to
# paste into a provider build it from the request (the default is only right on port 8000).
PUBLIC_BASE_URL_SET = bool(os.environ.get("PUBLIC_BASE_URL", "").strip())
PUBLIC_BASE_URL = (
    os.environ["PUBLIC_BASE_URL"].strip().rstrip("/")
    if PUBLIC_BASE_URL_SET
    else "http://localhost:8000"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_tables2",
    "django_filters",
    "ninja",  # serves the API docs' Swagger UI from static files, not a CDN
    "axes",
    "csp",
    "core",
    "accounts",
    "contacts",
    "messaging",
    "conversations",
    "engagement",
    "audiences",
    "campaigns",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, so static files keep their long cache headers.
    "config.middleware.PrivateCacheMiddleware",
    "config.middleware.ApiJsonErrorsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentWorkspaceMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.workspace",
                "core.context_processors.background",
                "conversations.context_processors.inbox",
            ],
        },
    },
]

DATABASES = {
    # An empty DATABASE_URL means the embedded default too (`DATABASE_URL= make …`).
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'herald.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        # A kept connection is checked before a request reuses it (a restarted server's dead
        # connection is replaced instead of failing the request); a new one never is.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's, whose health check polls the idle socket before sending a SELECT 1.
    DATABASES["default"]["ENGINE"] = "config.postgresql"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, worker, beat) share the embedded database: wait for the lock
    # instead of failing with "database is locked", and let readers run beside the writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Brute-force protection (django-axes) on /login/ and /admin/login/: after
# HERALD_LOGIN_FAILURE_LIMIT failed logins for one username, or from one client address,
# that username (or address) is refused for HERALD_LOGIN_LOCKOUT_MINUTES; each further
# failure during the lockout starts it again. Failures are stored in the database (SQLite
# or PostgreSQL), so every web process sees them. A success does not wipe the address's
# failures: an attacker holding one valid account could otherwise reset the per-address
# count between guesses at other accounts. Unlock: `manage.py axes_reset_username NAME`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("HERALD_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("HERALD_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "config.clientip.client_ip"
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "contacts:contact-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("HERALD_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# Uploads: imports stream from disk, so Django never holds a big file in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("HERALD_MAX_REQUEST_BODY", 10 * 1024 * 1024))
HERALD_IMPORT_MAX_BYTES = int(os.environ.get("HERALD_IMPORT_MAX_BYTES", 100 * 1024 * 1024))
HERALD_IMPORT_MAX_ROWS = int(os.environ.get("HERALD_IMPORT_MAX_ROWS", 2_000_000))
HERALD_IMPORT_BATCH_SIZE = int(os.environ.get("HERALD_IMPORT_BATCH_SIZE", 2_000))
# An upload is read by a worker task, only in a child process with these limits
# (contacts/importing/sandbox.py): address space in bytes, CPU seconds, wall-clock seconds.
HERALD_IMPORT_READ_MEMORY = int(os.environ.get("HERALD_IMPORT_READ_MEMORY", 2 * 1024**3))
HERALD_IMPORT_READ_CPU_SECONDS = int(os.environ.get("HERALD_IMPORT_READ_CPU_SECONDS", 20))
HERALD_IMPORT_READ_WALL_SECONDS = int(os.environ.get("HERALD_IMPORT_READ_WALL_SECONDS", 40))
HERALD_EXPORT_SYNC_LIMIT = int(os.environ.get("HERALD_EXPORT_SYNC_LIMIT", 5_000))
# Unconfirmed import drafts and finished exports (and their files) are deleted after this.
HERALD_RETENTION_DAYS = int(os.environ.get("HERALD_RETENTION_DAYS", "7"))
# A workspace invitation's link works once, for this many days (accounts/invitations.py).
HERALD_INVITATION_DAYS = int(os.environ.get("HERALD_INVITATION_DAYS", "7"))
# Request body limits per path, checked before anything reads the body (config/guard.py):
# import uploads may carry a whole file (plus 1 MB of form fields), the login forms and
# Twilio's webhooks are small, anything else gets DATA_UPLOAD_MAX_MEMORY_SIZE. The nginx
# configuration in deploy/ applies the same limits at the edge.
HERALD_UPLOAD_MAX_BODY = HERALD_IMPORT_MAX_BYTES + 1024 * 1024
HERALD_BODY_LIMITS = [
    (r"^/(admin/)?login/$", 64 * 1024),
    (r"^/webhooks/twilio/", 64 * 1024),
    (r"^/contacts/import/", HERALD_UPLOAD_MAX_BODY),
    (r"^/api/v1/(contacts/upload|campaigns/contact-groups/\d+/import)", HERALD_UPLOAD_MAX_BODY),
]
# JSON API (A6): requests per minute per API key (0 = no limit), and the cap on list counts.
HERALD_API_RATE_LIMIT = int(os.environ.get("HERALD_API_RATE_LIMIT", "600"))
# Test sends (a free message to any number) per hour, per user and per workspace (0: none).
HERALD_TEST_SEND_LIMIT_USER = int(os.environ.get("HERALD_TEST_SEND_LIMIT_USER", "10"))
HERALD_TEST_SEND_LIMIT_WORKSPACE = int(os.environ.get("HERALD_TEST_SEND_LIMIT_WORKSPACE", "30"))
HERALD_API_COUNT_CAP = int(os.environ.get("HERALD_API_COUNT_CAP", "10000"))
# The cache holds the API rate-limit counters; share it between processes (Redis) in production.
HERALD_CACHE_URL = os.environ.get("HERALD_CACHE_URL", "")
_broker_url = os.environ.get("CELERY_BROKER_URL", "")
if not HERALD_CACHE_URL and _broker_url.startswith(("redis://", "rediss://")):
    HERALD_CACHE_URL = _broker_url
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": HERALD_CACHE_URL}
        if HERALD_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Security: secure by default outside development; `manage.py check --deploy` stays clean.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind the proxy (deploy/nginx), X-Forwarded-Proto says https and X-Real-IP names the client:
# nginx sets both itself, overwriting whatever the client sent.
HERALD_BEHIND_PROXY = env_bool("HERALD_BEHIND_PROXY")
if HERALD_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG and env_bool("HERALD_HTTPS", default=True) and not env_bool("HERALD_TESTING"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("HERALD_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("HERALD_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_REDIRECT_EXEMPT = [r"^healthz(/background)?$"]
# Content-Security-Policy on every response: scripts and styles only from our own static files
# (no inline script, inline style or eval anywhere, htmx included: see base.html), no
# framing, forms only to this site. data: images are the admin's and Swagger UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Campaigns and messaging (M1-M3): backends per channel, tick period, claim batch and lease.
HERALD_SMS_BACKEND = os.environ.get("HERALD_SMS_BACKEND", "console")
HERALD_VOICE_BACKEND = os.environ.get("HERALD_VOICE_BACKEND", "console")
HERALD_EMAIL_BACKEND = os.environ.get("HERALD_EMAIL_BACKEND", "console")
HERALD_TICK_SECONDS = float(os.environ.get("HERALD_TICK_SECONDS", "2"))
HERALD_SEND_BATCH = int(os.environ.get("HERALD_SEND_BATCH", "200"))
HERALD_LEASE_SECONDS = int(os.environ.get("HERALD_LEASE_SECONDS", "60"))
HERALD_SEND_TASKS = int(os.environ.get("HERALD_SEND_TASKS", "4"))  # send batches in flight
# Provider calls a send task keeps in flight at once, on threads (messaging/provider_calls.py):
# Twilio takes 100-300 ms a call. 1: one call at a time.
HERALD_SEND_CONCURRENCY = int(os.environ.get("HERALD_SEND_CONCURRENCY", "32"))
# The finish-time estimate's rate for a sender without a rate limit (messages per second).
HERALD_ESTIMATE_SEND_RATE = float(os.environ.get("HERALD_ESTIMATE_SEND_RATE", "10"))
HERALD_SEND_LOOP_SECONDS = float(os.environ.get("HERALD_SEND_LOOP_SECONDS", "20"))

# Celery: the database is the queue's truth; the broker only rings the bell.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport with atomic writes and crash-safe claims (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "unacked_folder": str(CELERY_BROKER_DIR / "unacked"),
        "bad_folder": str(CELERY_BROKER_DIR / "bad"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_BEAT_SCHEDULE: dict = {
    # campaigns/messaging: one locked tick starts due runs, fans out, sweeps and pumps the outbox.
    "herald-tick": {"task": "campaigns.tasks.tick", "schedule": HERALD_TICK_SECONDS},
    # contacts/retention.py: import drafts and finished exports past HERALD_RETENTION_DAYS.
    "herald-retention": {"task": "contacts.tasks.retention_purge_task", "schedule": 3600.0},
    # conversations/answering.py: re-queue agent answers whose task was lost (a broker restart).
    "herald-agent-resume": {"task": "conversations.tasks.answers_resume", "schedule": 60.0},
}
# The background heartbeat (core/heartbeat.py): workers record that they are alive this often;
# with neither a worker nor the tick seen for this long, pages say sending and imports pause.
HERALD_HEARTBEAT_SECONDS = float(os.environ.get("HERALD_HEARTBEAT_SECONDS", "30"))
HERALD_BACKGROUND_STALE_SECONDS = float(os.environ.get("HERALD_BACKGROUND_STALE_SECONDS", "120"))
HERALD_BACKGROUND_CHECK = env_bool("HERALD_BACKGROUND_CHECK", default=not CELERY_TASK_ALWAYS_EAGER)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("HERALD_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-axes logs every login at INFO; failures and lockouts stay (WARNING).
        "axes": {"level": "WARNING"},
        # The tick runs every two seconds: Celery's own received/succeeded lines for it would
        # drown everything else. Task failures are still logged at ERROR.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
        # The twilio client logs ~15 INFO lines per request, the recipient's number among them.
        "twilio.http_client": {"level": "WARNING"},
    },
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Messaging providers (M1): HERALD_SMS/VOICE_BACKEND console|twilio, HERALD_EMAIL_BACKEND
# console|smtp (set above). Credentials come from the environment.
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
# Another server that speaks Twilio's REST API (a staging mock, the test fake); unset = Twilio.
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "").rstrip("/")
TWILIO_TIMEOUT_SECONDS = float(os.environ.get("TWILIO_TIMEOUT_SECONDS", "15"))
# Carrier failures (30003-30006) on this many messages in a row opt the contact out (bad_response).
HERALD_BAD_RESPONSE_THRESHOLD = int(os.environ.get("HERALD_BAD_RESPONSE_THRESHOLD", "3"))
# The reply to HELP/INFO; STOP/START confirmations are fixed texts in messaging/keywords.py.
HERALD_HELP_REPLY = os.environ.get(
    "HERALD_HELP_REPLY",
    "Reply STOP to unsubscribe, START to subscribe again. Msg&data rates may apply.",
)
# Inbound email (messaging/inbound_email.py): with a reply address set, every email to a
# contact has `Reply-To: <local>+<signed workspace.contact>@<domain>` and the replies that the
# mail provider posts to /webhooks/email/inbound/<workspace id> join the contact's thread.
HERALD_REPLY_TO_EMAIL = os.environ.get("HERALD_REPLY_TO_EMAIL", "").strip()
HERALD_INBOUND_EMAIL_MAX_BYTES = int(
    os.environ.get("HERALD_INBOUND_EMAIL_MAX_BYTES", 10 * 1024 * 1024)
)
# A signed inbound email request is accepted this long after its timestamp (replays within
# it change nothing: the email's Message-ID is stored once).
HERALD_INBOUND_EMAIL_TOLERANCE_SECONDS = int(
    os.environ.get("HERALD_INBOUND_EMAIL_TOLERANCE_SECONDS", "300")
)
# What messaging tells the apps above it (it never imports them): event → functions to call.
# The events and their arguments are documented in messaging/hooks.py.
HERALD_MESSAGING_HOOKS = {
    "inbound": ["conversations.hooks.inbound_received"],
    "status": [],
    "requeued": ["campaigns.hooks.messages_requeued"],
    "call": ["conversations.voice.call_parameters"],
    "limit_reached": ["campaigns.hooks.send_limit_reached"],
}
# Entries the apps above messaging add to a contact's activity (messaging.selectors).
HERALD_ACTIVITY_SOURCES = [
    "engagement.selectors.activity_items",
    "conversations.voice_selectors.activity_items",
]
# What may still need a contact group before it is deleted: each a function(group) that
# returns one line per user ("Campaign “Spring sale” (scheduled)"); contacts imports none.
HERALD_GROUP_USERS = ["campaigns.hooks.group_campaigns"]
# The same for an agent (conversations imports none of them).
HERALD_AGENT_USERS = ["campaigns.hooks.agent_campaigns"]
# The same for a smart group (audiences imports nothing above it either).
HERALD_SMART_GROUP_USERS = ["campaigns.hooks.smart_group_campaigns"]
# Who answers replies that are not STOP/START/HELP (M7): a dotted path to a Responder class.
HERALD_RESPONDER = os.environ.get(
    "HERALD_RESPONDER", "conversations.responders.KeywordRuleResponder"
)
# Django's SMTP settings, used when HERALD_EMAIL_BACKEND=smtp.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Herald <herald@localhost>")
# Herald's own emails (workspace invitations) go the way campaign email does: printed on the
# console under HERALD_EMAIL_BACKEND=console (make run), through the SMTP server above under smtp.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if HERALD_EMAIL_BACKEND == "smtp"
    else "django.core.mail.backends.console.EmailBackend"
)

# AI agents (V3-V5): any OpenAI-compatible Chat Completions server. Without a base URL and a
# model, agents answer their keyword rules only and every other reply waits for a person.
HERALD_LLM_BASE_URL = os.environ.get("HERALD_LLM_BASE_URL", "").rstrip("/")
HERALD_LLM_API_KEY = os.environ.get("HERALD_LLM_API_KEY", "")
HERALD_LLM_MODEL = os.environ.get("HERALD_LLM_MODEL", "")
HERALD_LLM_TIMEOUT_SECONDS = float(os.environ.get("HERALD_LLM_TIMEOUT_SECONDS", "20"))
HERALD_LLM_CONNECT_TIMEOUT_SECONDS = float(
    os.environ.get("HERALD_LLM_CONNECT_TIMEOUT_SECONDS", "5")
)
# Attempts per answer (errors, timeouts and invalid answers), then the thread goes to a person.
HERALD_LLM_ATTEMPTS = int(os.environ.get("HERALD_LLM_ATTEMPTS", "3"))
# json_schema (falls back to json_object by itself where a server refuses it) or json_object.
HERALD_LLM_RESPONSE_FORMAT = os.environ.get("HERALD_LLM_RESPONSE_FORMAT", "json_schema")
HERALD_LLM_MAX_TOKENS = int(os.environ.get("HERALD_LLM_MAX_TOKENS", "400"))
# max_tokens (Ollama, vLLM, llama.cpp, most models) or max_completion_tokens (OpenAI o-series).
HERALD_LLM_MAX_TOKENS_FIELD = os.environ.get("HERALD_LLM_MAX_TOKENS_FIELD", "max_tokens")
HERALD_LLM_TEMPERATURE = float(os.environ.get("HERALD_LLM_TEMPERATURE", "0.3"))
# A burst of messages gets one answer: the agent waits this long after the newest message,
# and never longer than the max wait after the first one.
HERALD_AGENT_DEBOUNCE_SECONDS = float(os.environ.get("HERALD_AGENT_DEBOUNCE_SECONDS", "3"))
HERALD_AGENT_MAX_WAIT_SECONDS = float(os.environ.get("HERALD_AGENT_MAX_WAIT_SECONDS", "20"))
# Loop guard: agent replies per conversation per hour before a person takes over (0: none).
HERALD_AGENT_REPLIES_PER_HOUR = int(os.environ.get("HERALD_AGENT_REPLIES_PER_HOUR", "12"))
# Tokens a workspace's agents may spend per day (in its time zone) before they hand off
# (0: no limit); the default of a workspace whose settings name no budget of their own.
HERALD_LLM_DAILY_TOKENS = int(os.environ.get("HERALD_LLM_DAILY_TOKENS", "500000"))
# AI voice calls (V6): the model's share of a turn (Twilio waits 15 s for the TwiML, then
# gives up on the turn), and how long before the agent's max call duration it wraps up.
HERALD_VOICE_MODEL_SECONDS = float(os.environ.get("HERALD_VOICE_MODEL_SECONDS", "9"))
HERALD_VOICE_WRAP_UP_SECONDS = int(os.environ.get("HERALD_VOICE_WRAP_UP_SECONDS", "20"))
# Conversing calls detect answering machines asynchronously (the opening plays at once; a
# machine's verdict turns the call into a voicemail through the Calls API). 0: synchronously
# (Twilio waits for the verdict before it fetches the opening).
HERALD_VOICE_ASYNC_AMD = os.environ.get("HERALD_VOICE_ASYNC_AMD", "1") == "1"
