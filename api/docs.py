"""The API's description in the OpenAPI schema: the rules every endpoint follows, and the
seeds' examples as Herald takes them (integer ids; tests/api/test_api_docs.py sends each)."""

import json

# Seed 001's campaign examples, with Herald's integer ids.
CAMPAIGN_EXAMPLES = {
    "scheduled": {
        "name": "Appointment Reminders",
        "type": "sms",
        "agent_id": 3,
        "contact_group_id": 12,
        "message_template": "Hi {{first_name}}, your appointment is on {{date}}. "
        "Reply CONFIRM or RESCHEDULE.",
        "scheduled_at": "2027-03-10T09:00:00Z",
        "timezone": "America/New_York",
    },
    "contact_local": {
        "name": "Morning Check-in",
        "type": "sms",
        "agent_id": 3,
        "contact_group_id": 12,
        "message_template": "Good morning {{first_name}}! How are you feeling today?",
        "scheduled_at": "2027-03-10T09:00:00",
        "timezone": "contact_local",
        "sending_window": {"start_hour": 9, "end_hour": 17},
    },
}
RESULTS_EXAMPLE = {
    "campaign_id": 41,
    "status": "completed",
    "total_contacts": 500,
    "sent": 498,
    "delivered": 485,
    "replied": 146,
    "failed": 2,
    "reply_rate": "29.3%",
    "reply_rate_value": 0.2932,
    "average_response_time": "4m 23s",
    "average_response_seconds": 263.0,
}
# Seed 002's contact lists (Herald's groups).
LIST_EXAMPLES = {
    "POST /api/v1/contacts/list": {"name": "VIP patients", "description": "Seen this year"},
    "POST /api/v1/contacts/list/contacts": {"contact_ids": [101, 102], "list_ids": [12, 13]},
    "DELETE /api/v1/contacts/list/contacts": {"contact_ids": [101], "list_ids": [13]},
    "PUT /api/v1/contacts/{id}": {"company": "Acme Health"},
}


def _json(value) -> str:
    return "\n".join("    " + line for line in json.dumps(value, indent=2).splitlines())


_API_DESCRIPTION = """\
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

**Examples** (ids are integers: a group's id from `GET /api/v1/contacts/list`, an agent's
from `GET /api/v1/agents`).

A campaign with `scheduled_at` is scheduled at once (`"draft": true` keeps it a draft;
without `scheduled_at` it is a draft until `POST /api/v1/campaigns/{id}/launch`):

    POST /api/v1/campaigns
@scheduled@

At 09:00 in each contact's own zone, only between 09:00 and 17:00 there:

    POST /api/v1/campaigns
@contact_local@

`GET /api/v1/campaigns/{id}/results` answers (abridged):

@results@

Contact lists are groups:
@lists@
"""

_EXAMPLES = {
    "@scheduled@": _json(CAMPAIGN_EXAMPLES["scheduled"]),
    "@contact_local@": _json(CAMPAIGN_EXAMPLES["contact_local"]),
    "@results@": _json(RESULTS_EXAMPLE),
    "@lists@": "".join(f"\n    {call}\n{_json(body)}\n" for call, body in LIST_EXAMPLES.items()),
}
API_DESCRIPTION = _API_DESCRIPTION
for _placeholder, _text in _EXAMPLES.items():
    API_DESCRIPTION = API_DESCRIPTION.replace(_placeholder, _text)
