"""Settings for the CRM sync portal, read from the environment (and `.env`, if present).

Zero configuration gives SQLite and django-q2's ORM broker; `DATABASE_URL` and `REDIS_URL`
switch to PostgreSQL and Redis. Production mode (`DEBUG=0`, the default) refuses to start
without the secrets it cannot invent.
"""

import datetime
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# PORTAL_ENV_FILE="" skips the file (tests do, so a developer's .env cannot leak into them).
ENV_FILE = os.environ.get("PORTAL_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "FERNET_KEYS", "ALLOWED_HOSTS")
if not DEBUG:
    missing = [name for name in REQUIRED_IN_PRODUCTION if not env.str(name, default="").strip()]
    if missing:
        raise ImproperlyConfigured(
            f"Production mode (DEBUG=0) needs {', '.join(missing)}: set them in the environment "
            "or in .env (`make run` writes a development .env for you)."
        )

SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-change-me")
# Newest first; the first key encrypts, all keys decrypt (MultiFernet). See `rotate_fernet`.
FERNET_KEYS = env.list("FERNET_KEYS", default=["dev-only-fernet-key-AAAAAAAAAAAAAAAAAAAAAAAAAAA="])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_jsonform",  # the admin's JSON editors (its JS is a static file: no CDN)
    "portal",
    "contacts",
    "sync",
    "ops",
    "sandbox",  # the stand-in CRM and partners: `demo`, `run_sandbox_crm`, the tests
]

MIDDLEWARE = [
    # First: a webhook delivery takes WEBHOOK_MIDDLEWARE instead of the rest of this list.
    "portal.webhook_middleware.WebhookPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.chunked.LengthRequiredMiddleware",
    "portal.middleware.ApiResponseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

# What a webhook delivery needs of the above (portal/webhook_middleware.py): no session, user,
# CSRF, messages, lockout or page policy, as it is a program's POST proven by its signature.
WEBHOOK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.chunked.LengthRequiredMiddleware",
    "portal.middleware.ApiResponseMiddleware",
    "django.middleware.common.CommonMiddleware",  # Content-Length, disallowed user agents
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue on the busy timeout instead of failing on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue -------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
        }
    }

# django-q2 only executes work: the outbox table is the source of truth for what is pending,
# so a lost task (Redis broker, killed worker) is re-enqueued by the sweeper.
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="portal"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    "save_limit": 1000,
    "catch_up": False,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Sync engine (see README: Sync) --------------------------------------------------------

# A push is tried this many times (crashes included) before its outbox row goes dead;
# with backoff from SYNC_RETRY_BASE_SECONDS doubling up to SYNC_RETRY_MAX_SECONDS, ~24 h.
SYNC_MAX_ATTEMPTS = env.int("SYNC_MAX_ATTEMPTS", default=14)
SYNC_RETRY_BASE_SECONDS = env.int("SYNC_RETRY_BASE_SECONDS", default=10)
SYNC_RETRY_MAX_SECONDS = env.int("SYNC_RETRY_MAX_SECONDS", default=6 * 3600)
# How long a claimed push may run before the sweeper assumes its worker died.
# A claimed push or inbound event is leased for this long and renewed every third of it while
# its worker lives (sync/engine/leases.py): a killed worker's row runs again within about 40 s.
SYNC_LEASE_SECONDS = env.int("SYNC_LEASE_SECONDS", default=30)
SYNC_LEASE_RENEWAL = env.bool("SYNC_LEASE_RENEWAL", default=True)
SYNC_SWEEP_MINUTES = env.int("SYNC_SWEEP_MINUTES", default=1)
# Pushes and inbound events are claimed in batches (sync/engine/queue.py): at most
# SYNC_BATCH_SIZE rows, round-robin, at most SYNC_BATCH_PER_CONNECTION of one connection in the
# first round (the room left goes to busy ones), so a busy connection's backlog never starves
# another's single change. A woken worker keeps
# claiming for SYNC_BATCH_SECONDS, then hands its turn back: the broker serves wakes in order,
# so pushes and inbound processing share the workers (a long turn would hold pushes back for
# its whole length while inbound events keep coming). One wake waits in the broker at a time
# (a shared-cache flag living SYNC_WAKE_SECONDS, should the broker lose it), and a web process
# looks at that flag at most once per SYNC_WAKE_INTERVAL_SECONDS (a later look covers the
# events in between).
SYNC_BATCH_SIZE = env.int("SYNC_BATCH_SIZE", default=50)
SYNC_BATCH_PER_CONNECTION = env.int("SYNC_BATCH_PER_CONNECTION", default=10)
SYNC_BATCH_SECONDS = env.float("SYNC_BATCH_SECONDS", default=1.0)
SYNC_WAKE_SECONDS = env.float("SYNC_WAKE_SECONDS", default=2.0)
SYNC_WAKE_INTERVAL_SECONDS = env.float("SYNC_WAKE_INTERVAL_SECONDS", default=0.05)
# A push waits until its record has been quiet this long, so a burst of changes (an import,
# a workflow touching several fields) becomes one call; 0 pushes every first change at once.
SYNC_PUSH_DEBOUNCE_SECONDS = env.float("SYNC_PUSH_DEBOUNCE_SECONDS", default=0.15)
# The longest a push waits for the rate limiter before it is rescheduled instead.
SYNC_RATE_LIMIT_WAIT_SECONDS = env.float("SYNC_RATE_LIMIT_WAIT_SECONDS", default=15.0)
# How long a remote may take to answer before the push counts as a timeout (retried).
SYNC_READ_TIMEOUT_SECONDS = env.float("SYNC_READ_TIMEOUT_SECONDS", default=30.0)

# --- Partner connectors (see README: Partner connectors) ------------------------------------

# Hosts an operator allows although they resolve to private/loopback addresses (SSRF guard).
SSRF_ALLOWED_HOSTS = env.list("SSRF_ALLOWED_HOSTS", default=[])
# Outbound webhooks: an endpoint failing this long is disabled and ADMINS are mailed.
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
ADMINS = [tuple(a.split(":", 1)) for a in env.list("ADMINS", default=[]) if ":" in a]

# --- Inbound webhooks (see README: Webhooks) ------------------------------------------------

# PEM public keys accepted for CRM webhook signatures (Ed25519 `x-ghl-signature`, RSA
# `x-wh-signature`): inline PEMs or file paths, comma/blank-line separated, several at once.
# Empty: the CRM's published keys shipped in sync/connectors/highlevel/keys/.
HIGHLEVEL_WEBHOOK_PUBLIC_KEYS = env.str("HIGHLEVEL_WEBHOOK_PUBLIC_KEYS", default="", multiline=True)
# A signed webhook whose timestamp is further than this in the past or future is refused.
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
# Deliveries one client address may make to one webhook endpoint ("<count>/<second|minute|
# hour|day>", counted in the shared cache); more are answered 429 with Retry-After, which the
# CRM retries. Empty: no limit.
WEBHOOK_RATE_LIMIT = env.str("WEBHOOK_RATE_LIMIT", default="100/second")
# Processing tries (crashes included) before an inbound event is marked failed.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=5)

# --- Operations (see README: Operations) ----------------------------------------------------
# The periodic poll (each connection's own interval): a finished sweep starts again this long
# before the newest change it read (a change the remote indexed late is still read); a
# connection's first poll looks back SYNC_POLL_LOOKBACK_HOURS (older history is backfill's).
SYNC_POLL_OVERLAP_SECONDS = env.int("SYNC_POLL_OVERLAP_SECONDS", default=120)
SYNC_POLL_LOOKBACK_HOURS = env.int("SYNC_POLL_LOOKBACK_HOURS", default=24)
# Reconcile (each connection's own interval) repairs (False: reports only).
# Logs older than PRUNE_LOGS_DAYS go daily.
RECONCILE_REPAIR = env.bool("RECONCILE_REPAIR", default=True)
PRUNE_LOGS_DAYS = env.int("PRUNE_LOGS_DAYS", default=90)
# Tombstones (deleted mirror rows, erased contacts) are kept this long (a late update must not
# bring a record back), then deleted by the daily prune.
TOMBSTONE_RETENTION_DAYS = env.int("TOMBSTONE_RETENTION_DAYS", default=365)
# Every ALERT_CHECK_MINUTES the admins (active superusers with an e-mail, and ADMINS) are
# e-mailed about a connection whose error share over the last ALERT_WINDOW_MINUTES (at least
# ALERT_MIN_ATTEMPTS calls) reaches ALERT_ERROR_RATE, or whose dead letters reach
# ALERT_DEAD_LETTERS; the same alert is not repeated within ALERT_REPEAT_MINUTES.
ALERT_CHECK_MINUTES = env.int("ALERT_CHECK_MINUTES", default=5)
ALERT_WINDOW_MINUTES = env.int("ALERT_WINDOW_MINUTES", default=15)
ALERT_ERROR_RATE = env.float("ALERT_ERROR_RATE", default=0.5)
ALERT_MIN_ATTEMPTS = env.int("ALERT_MIN_ATTEMPTS", default=10)
ALERT_DEAD_LETTERS = env.int("ALERT_DEAD_LETTERS", default=10)
ALERT_REPEAT_MINUTES = env.int("ALERT_REPEAT_MINUTES", default=60)
# A connection's oldest waiting push older than this alerts; so does a partner API key or a
# webhook signing secret expiring within ALERT_EXPIRY_DAYS.
ALERT_LAG_MINUTES = env.int("ALERT_LAG_MINUTES", default=30)
ALERT_EXPIRY_DAYS = env.int("ALERT_EXPIRY_DAYS", default=14)
# Alert mail: printed to the console in development; SMTP (EMAIL_HOST, ...) in production.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends."
    + ("console.EmailBackend" if DEBUG else "smtp.EmailBackend"),
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = SERVER_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")

# --- Auth, i18n, static ---------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# Phones without a country prefix are read as numbers of this region.
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="US")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Login protection and second factor (see README: Operators and workspaces) -------------

# django-axes runs first: a locked-out username + address never reaches the password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# AXES_FAILURE_LIMIT wrong passwords (or authenticator codes) for one username from one
# address lock that pair out for AXES_COOLOFF_MINUTES; a good login resets the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/portal/locked_out.html"
# Superusers and agency admins must log in with a TOTP code (set one up at /admin/two-factor/).
REQUIRE_2FA = env.bool("REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="CRM Sync Portal")

# --- Content-Security-Policy (django-csp) ---------------------------------------------------

# No inline or foreign script anywhere (admin, dashboard, timeline, Swagger UI): scripts are
# static files. Style attributes stay allowed (the admin's widgets and the charts set them);
# style elements and sheets must come from here too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Security (production mode) -------------------------------------------------------------

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("BEHIND_TLS_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz is probed over plain HTTP by load balancers.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SILENCED_SYSTEM_CHECKS = [] if env.bool("SECURE_HSTS_PRELOAD", default=False) else ["security.W021"]

# Error pages and mails mask URL passwords (REDIS_URL, DATABASE_URL, ...), not only secret names.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.error_reports.PortalExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "portal.error_reports.PortalExceptionReporter"

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # 1 MB: the largest body the API and webhooks take

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# One line per record: Django's own "django" handler (console when DEBUG) is replaced, so its
# warnings reach the root handler once; django-q gets ours, so it adds none of its own.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "portal.middleware.RequestIdLogFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        },
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django-q": {
            "handlers": ["console"],
            "propagate": False,
            "level": env.str("Q_LOG_LEVEL", default="WARNING"),
        },
    },
}

# --- Partner API ----------------------------------------------------------------------------

# Keyed hash pepper for API key secrets. Unset: derived from SECRET_KEY (so rotating SECRET_KEY
# then invalidates every API key; set API_KEY_PEPPER to decouple them).
API_KEY_PEPPER = env.str("API_KEY_PEPPER", default="")
# Per key, across all processes (shared cache): "<count>/<second|minute|hour|day>".
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/minute")
# Requests without a usable key (none, unknown, revoked), per client address (REMOTE_ADDR).
API_ANON_RATE_LIMIT = env.str("API_ANON_RATE_LIMIT", default="60/minute")
# `updated_since` lists stop this many seconds before the first page was asked for, so a write
# whose transaction was still open then cannot be skipped; the next sync pass picks it up.
API_SYNC_LAG_SECONDS = env.int("API_SYNC_LAG_SECONDS", default=5)
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["portal.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["portal.authentication.HasScope"],
    # Rate limits are counted in ApiKeyAuthentication, before permissions (see there).
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["portal.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "portal.openapi.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "portal.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CRM Sync Portal — Partner API",
    "DESCRIPTION": (
        "Read and write the portal's mirror of the CRM: users, contacts, tasks, notes and "
        "appointments.\n\n"
        "**Authentication**: `Authorization: Bearer psk_…` (a partner key from "
        "`manage.py apikeys create`).\n\n"
        "**Scopes**: `users.readonly users.write contacts.readonly contacts.write "
        "tasks.readonly tasks.write notes.readonly notes.write appointments.readonly "
        "appointments.write workflows.readonly courses.write`. Reads need `<resource>.readonly` "
        "or `<resource>.write`; writes need `<resource>.write`. Each operation names its scope; "
        "a missing one is 403 with `details.required_scope`.\n\n"
        "**Workspaces**: a key sees only its workspaces (others' objects are 404). A key with "
        "several workspaces names the one to create in with the `X-Workspace` header (slug or "
        "CRM location id).\n\n"
        '**Errors**: `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVERS": [{"url": "/", "description": "This portal"}],
    # Operation ids without the version prefix: `contacts_create`, what generated clients name.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.openapi_contract.document_contract",
    ],
    "ENUM_NAME_OVERRIDES": {
        "AppointmentStatusEnum": "contacts.models.Appointment.Status",
        "CrmUserTypeEnum": "contacts.models.CrmUser.Type",
        "CourseMaterialTypeEnum": "sync.partner_api.MATERIAL_TYPES",
        "ErrorCodeEnum": "portal.api_errors.ERROR_CODES",
        "BulkItemStatusEnum": ["created", "updated", "unchanged", "error"],
    },
}
