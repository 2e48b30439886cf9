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
