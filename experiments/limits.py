"""Every limit of the experiments app, defined once.

The model fields, the API serializers and schema, the services' checks, the
admin form and `manage.py experiments` all read these names, so a limit
cannot be one number in one interface and another in the next.
"""

import re

# An experiment key and an event name: letters, digits and `_ . : -`.
KEY_MAX = 64
EVENT_MAX = 64
KEY_RE = re.compile(rf"^[A-Za-z0-9_.:-]{{1,{KEY_MAX}}}$")
EVENT_RE = re.compile(rf"^[A-Za-z0-9_.:-]{{1,{EVENT_MAX}}}$")
# A user id (the hash input and a stored column).
USER_MAX = 200
# A variant name, and how many variants an experiment may have (at least two:
# a control and a treatment).
VARIANT_MAX = 64
MAX_VARIANTS = 26
# A variant's weight: a positive integer up to this.
MAX_WEIGHT = 1_000_000
SALT_MAX = 200
# Events per `POST /api/exp/log` (one transaction, all or nothing).
BATCH_MAX = 1000
# |value| cap: a batch of 1,000 such values sums to 1e18, far from a float's
# 1.8e308, so SUM(value) in results can never overflow to infinity.
VALUE_MAX = 10**15

# Sequential analysis: the planned total of exposed users (all variants).
PLANNED_USERS_DEFAULT = 5000
PLANNED_USERS_MAX = 2_000_000_000
# The time series: at most this many days back.
DAYS_DEFAULT = 30
DAYS_MAX = 366
# Metrics: at most this many secondary metrics and guardrails each.
METRICS_MAX = 20
