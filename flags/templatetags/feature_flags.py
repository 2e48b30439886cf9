"""Template tags: `{% load feature_flags %}`.

`{% flag_enabled "ui.new_dashboard" as show %}` sets `show` to whether the
flag is on for `request.user`; `{% flag_value "ui.theme" "dark" %}` prints a
value. Both read the cached snapshot: no database query per use.
"""

from django import template

from flags import get_value, is_enabled

register = template.Library()


def _user(context):
    request = context.get("request")
    return getattr(request, "user", None) if request is not None else context.get("user")


@register.simple_tag(takes_context=True)
def flag_enabled(context, key, **attributes):
    """Return True if boolean flag `key` is on for the current user (plus attributes)."""
    return is_enabled(key, user=_user(context), context=attributes or None)


@register.simple_tag(takes_context=True)
def flag_value(context, key, default=None, **attributes):
    """Return the value of flag `key` for the current user, or `default`."""
    return get_value(key, default, user=_user(context), context=attributes or None)
