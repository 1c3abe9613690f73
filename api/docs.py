"""The API's description in the OpenAPI schema: the rules every endpoint follows."""

API_DESCRIPTION = """\
Herald's JSON API. Send `Authorization: Bearer <key>` with an API key of your workspace
(created in the dashboard). The key decides the workspace: everything you read or change
belongs to it.

**Errors** are JSON `{"message": "...", "errors": {"field": ["..."]}}`:

- `401` missing, unknown or revoked key (browser sessions are not accepted: the API is
  bearer-only, so it needs no CSRF token);
- `404` an id that is not in your workspace — in the path **or in the body**
  (`target_group_id`, `contact_ids`, `ids`, `group_id`): if any id in a request is unknown the
  whole request is refused with 404 and nothing is changed;
- `409` a group name already used in the workspace, or a conversion's `idempotency_key`
  already used with other data;
- `400` a value breaks a rule (bad phone or email, no phone and no email, …), `422` the body or
  a query parameter has the wrong shape; both name the field. A smart-group definition that
  does not fit (unknown field or operator, a value of the wrong type, a group of another
  workspace) is a `422` naming its place, e.g. `conditions.2.value`;
- `413` the request body is larger than the server's limit (`HERALD_MAX_REQUEST_BODY`);
- `429` more requests in the current minute than the key's limit (`HERALD_API_RATE_LIMIT`);
  `Retry-After` tells how many seconds to wait.

**Lists** are `{"items": [...], "count": N}` with `limit` and `offset` query parameters.
Unknown body fields and read-only fields (`id`, `status` outside the documented PATCH,
`carrier`, `line_type`, `is_valid`, timestamps, `workspace`) are ignored.
"""
