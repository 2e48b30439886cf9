"""Every limit the flags app enforces, defined once.

The services, the engine, the serializers, the `flags` command and the admin
all read these names, so an interface can never allow what another refuses.
docs/flags.md lists them.
"""

# A flag key: letters, digits and . _ : - (the pattern lives in flags.models).
KEY_MAX_LENGTH = 100
DESCRIPTION_MAX = 2000
# The `actor` of a change and a flag's `updated_by` ("api:<key label>", "admin:<user>").
ACTOR_MAX_LENGTH = 200
# `GET /api/flags/history?key=`: longer input is refused as invalid before any
# lookup. Looser than KEY_MAX_LENGTH on purpose: a key of 101-200 characters
# names no flag and answers 404 `unknown_flag`, as it always has.
HISTORY_KEY_QUERY_MAX = 200

# History rows per read: the API's and the command's `limit`, the admin's flag page.
HISTORY_MIN = 1
HISTORY_MAX = 1000
HISTORY_DEFAULT = 50
HISTORY_ON_PAGE = HISTORY_DEFAULT
# The admin's "Revert selected changes" lists every row on its confirmation page.
REVERT_SELECTED_MAX = 100

# Targeting rules and rollouts.
NAME_MAX = 100  # a rule's or rollout's name (the variant)
MAX_RULES = 100
MAX_CONDITIONS = 50  # per rule
# Values are copied for every evaluation and shown in the admin: keep them small
# and shallow (a deep value hit the recursion limit in copy.deepcopy). The depth
# also bounds an evaluation context.
MAX_DEPTH = 32
MAX_VALUE_BYTES = 64 * 1024
# Integer flags hold at most ±(2**53 - 1): JavaScript and most JSON parsers read
# numbers as IEEE doubles, and past this they silently round (9007199254740993
# arrives as ...992), so a client would see another value than the one set.
MAX_SAFE_INTEGER = 2**53 - 1

# Prerequisites: a flag lists at most this many, and a chain of prerequisites
# (A needs B needs C ...) is at most MAX_PREREQUISITE_DEPTH deep.
MAX_PREREQUISITES = 10
MAX_PREREQUISITE_DEPTH = 5

# Segments: a name like a flag key (its history rows use the key
# "segment:<name>", which must fit KEY_MAX_LENGTH), conditions like a rule's.
SEGMENT_NAME_MAX = 64
SEGMENT_KEY_PREFIX = "segment:"

# Scheduled changes: `at` at most SCHEDULE_PAST_GRACE seconds in the past and
# at most SCHEDULE_MAX_AHEAD_DAYS ahead; a note of at most NOTE_MAX characters.
SCHEDULE_PAST_GRACE = 60
SCHEDULE_MAX_AHEAD_DAYS = 366
NOTE_MAX = 500
SCHEDULE_LIST_MAX = 1000

# Evaluation cost budget (API and OFREP contexts): a list holds at most
# CONTEXT_LIST_MAX items and a string at most CONTEXT_STRING_MAX bytes (UTF-8).
CONTEXT_LIST_MAX = 1000
CONTEXT_STRING_MAX = 4096

# Usage counts: each process flushes its in-memory counts at most every
# USAGE_FLUSH_SECONDS or USAGE_FLUSH_EVALUATIONS evaluations, whichever is first.
USAGE_FLUSH_SECONDS = 10.0
USAGE_FLUSH_EVALUATIONS = 10_000
USAGE_DAYS_MAX = 90
USAGE_DAYS_DEFAULT = 7
# Stale flags: `unused_days` and `static_days` of /api/flags/stale.
STALE_DAYS_MIN = 1
STALE_DAYS_MAX = 365
STALE_UNUSED_DEFAULT = 30
STALE_STATIC_DEFAULT = 14
# A history row's field name (the longest is "announce_channels").
FIELD_MAX_LENGTH = 20
