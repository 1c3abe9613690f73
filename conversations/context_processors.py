"""The sidebar's count of threads that need a person (V2)."""

from .selectors import needs_human_count


def inbox(request) -> dict:
    workspace = getattr(request, "workspace", None)
    user = getattr(request, "user", None)
    if workspace is None or user is None or not user.is_authenticated:
        return {}
    return {"inbox_needs_human": lambda: needs_human_count(workspace=workspace)}
