"""The JSON API under /api/v1 (section A of the spec). Each resource has its own router."""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from .auth import ApiKeyAuth
from .docs import API_DESCRIPTION
from .errors import NotInWorkspace
from .ratelimit import RateLimited


class HeraldAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document is built once per path prefix.

    The document depends on the routes alone, which are fixed once the URLconf is loaded;
    building it took ~0.75 s of CPU on every request for /openapi.json and the docs page.
    """

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        schemas = self.__dict__.setdefault("_schemas", {})
        if path_prefix not in schemas:  # two first requests at once both build it: harmless
            schemas[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return schemas[path_prefix]


api = HeraldAPI(
    title="Herald API",
    version="1",
    urls_namespace="api",
    auth=ApiKeyAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
    description=API_DESCRIPTION,
)


def _field_errors(errors) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        loc = [
            str(part) for part in error.get("loc", []) if part not in ("body", "payload", "query")
        ]
        fields.setdefault(".".join(loc) or "__all__", []).append(error.get("msg", "Invalid value."))
    return fields


@api.exception_handler(ValidationError)
def on_schema_error(request, exc: ValidationError):
    if exc.errors and all(error.get("loc", ("",))[0] == "path" for error in exc.errors):
        # /contacts/abc names no resource: the same 404 as a route that takes only integers.
        return api.create_response(request, {"message": "Not found.", "errors": {}}, status=404)
    return api.create_response(
        request, {"message": "Invalid request.", "errors": _field_errors(exc.errors)}, status=422
    )


@api.exception_handler(DjangoValidationError)
def on_rule_error(request, exc: DjangoValidationError):
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(
        request, {"message": "Invalid request.", "errors": errors}, status=400
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return api.create_response(
        request, {"message": "Missing, invalid or revoked API key.", "errors": {}}, status=401
    )


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return api.create_response(request, {"message": "Not found.", "errors": {}}, status=404)


@api.exception_handler(NotInWorkspace)
def on_ids_not_found(request, exc: NotInWorkspace):
    body = {"message": "Not found.", "errors": {exc.field: [exc.detail]}}
    return api.create_response(request, body, status=404)


@api.exception_handler(RequestDataTooBig)
def on_body_too_big(request, exc):
    return api.create_response(
        request, {"message": "Request body too large.", "errors": {}}, status=413
    )


@api.exception_handler(RateLimited)
def on_rate_limited(request, exc: RateLimited):
    response = api.create_response(
        request, {"message": "Too many requests; slow down.", "errors": {}}, status=429
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return api.create_response(request, {"message": str(exc), "errors": {}}, status=exc.status_code)


# Resource routers are registered here, one line each.
api.add_router("", "api.imports.router")  # first: its fixed paths beat /contacts/{id}
api.add_router("/contacts/list", "api.contact_lists.router")  # before /contacts/{id}
api.add_router("/contacts", "api.contacts.router")
api.add_router("/campaigns/contact-groups", "api.groups.router")
api.add_router("/exports", "api.exports.router")
api.add_router("/campaigns", "api.campaigns.router")
api.add_router("/senders", "api.campaigns.senders_router")
api.add_router("/agents", "api.agents.agents_router")
api.add_router("/conversations", "api.conversations.router")
api.add_router("/campaigns/contacts", "api.activity.router")
api.add_router("/smart-groups", "api.smart_groups.router")
api.add_router("/conversions", "api.conversions.router")
