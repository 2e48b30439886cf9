from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from echopilot.exceptions import UpstreamFailure
from echopilot.serializers import ErrorSerializer
from support.serializers import (
    SupportDigestErrorSerializer,
    SupportDigestRequestSerializer,
    SupportDigestResponseSerializer,
)
from support.services import run_digest


class SupportDigestView(APIView):
    """Digest the newest unread support mail (read-only on the mailbox)."""

    required_scope = "write"

    @extend_schema(
        request=SupportDigestRequestSerializer,
        responses={
            200: SupportDigestResponseSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            502: SupportDigestErrorSerializer,
        },
    )
    def post(self, request):
        serializer = SupportDigestRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = run_digest(actor=request.user.actor, **serializer.validated_data)
        if not result.ok:
            # The failed digest is stored; the caller gets the JSON error format.
            raise UpstreamFailure(result.detail, code=result.error, digest_id=result.digest_id)
        return Response(result.to_dict())
