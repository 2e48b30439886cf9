"""`{% overview_cards as cards %}`: the registered overview cards, each with its data."""

from typing import Any

from django import template

from echopilot.overview import render_cards

register = template.Library()


@register.simple_tag(takes_context=True)
def overview_cards(context: template.Context) -> list[dict[str, Any]]:
    return render_cards(context["request"])
