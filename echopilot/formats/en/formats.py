"""The console's one date format (UTC), in place of the English locale's.

Django 5 always prefers a locale's formats to the DATETIME_FORMAT settings, so
settings.FORMAT_MODULE_PATH points here; the settings carry the same values.
"""

DATETIME_FORMAT = r"Y-m-d H:i \U\T\C"
SHORT_DATETIME_FORMAT = r"Y-m-d H:i \U\T\C"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = r"H:i \U\T\C"
