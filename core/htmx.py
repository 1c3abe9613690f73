"""The one way a view answers htmx: the whole page, or the fragment the request swaps in.

A fragment is chosen by the element the request targets (`HX-Target`, the id htmx sends), so
one page can serve several fragments. Boosted links and history restores ask for a whole
page even though they come from htmx. Every answer says `Vary: HX-Request`: the same URL
gives a page or a fragment depending on that header.
"""

from collections.abc import Collection, Mapping

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

Fragments = Mapping[str, str] | Collection[str]


def htmx_fragment(request: HttpRequest, fragments: Fragments) -> str | None:
    """The partial for this request, or None when it needs the whole page.

    `fragments` maps a target element's id to the partial that renders it; a plain
    collection of names is for partials named like the element they render.
    """
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.boosted or htmx.history_restore_request or not htmx.target:
        return None
    if isinstance(fragments, Mapping):
        return fragments.get(htmx.target)
    return htmx.target if htmx.target in fragments else None


def render_htmx(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    fragments: Fragments = (),
    status: int = 200,
) -> HttpResponse:
    """`template` rendered whole, or only the partial the htmx request targets."""
    fragment = htmx_fragment(request, fragments)
    name = f"{template}#{fragment}" if fragment else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
