"""What the contacts pages share: the group in the query string, the filter part of it, and
service errors shown on a form."""

from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404

from ..models import ContactGroup

# Kept out of the filter querystring that travels with the bulk form.
NON_FILTER_PARAMS = {"page", "sort", "per_page"}


def group_or_404(workspace, group_id) -> ContactGroup:
    try:
        pk = int(group_id)
    except (TypeError, ValueError):
        raise Http404("No such group.") from None
    return get_object_or_404(ContactGroup.objects.for_workspace(workspace), pk=pk)


def filter_query(params: QueryDict) -> QueryDict:
    query = params.copy()
    for key in NON_FILTER_PARAMS:
        query.pop(key, None)
    return query


def add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)
