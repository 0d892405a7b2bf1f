"""OSDI v1.2 HAL+JSON shapes of this node's records, and OSDI person bodies read back
into person fields. The field mapping is documented in docs/osdi.md."""

import sqlite3
from typing import Any

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput

CURIES = [{"name": "osdi", "href": "http://opensupporter.org/docs/v1/{rel}", "templated": True}]
MAX_TEXT = 500

# Field contacts are served as OSDI canvasses: our methods, and OSDI's contact types.
CONTACT_TYPES = {"door": "in-person", "phone": "phone", "text": "sms", "email": "email",
                 "event": "in-person", "other": "other"}
METHOD_OF_TYPE = {"in-person": "door", "phone": "phone", "sms": "text", "email": "email",
                  "other": "other"}


def link(href: str) -> dict[str, str]:
    return {"href": href}


def person(row: sqlite3.Row, base: str) -> dict[str, Any]:
    uuid = row["uuid"]
    data: dict[str, Any] = {
        "identifiers": [f"tagshare:{uuid}"],
        "created_date": row["created_at"], "modified_date": row["updated_at"],
        "given_name": row["first_name"], "family_name": row["last_name"],
        "email_addresses": ([{"address": row["email"], "primary": True}]
                            if row["email"] else []),
        "phone_numbers": [{"number": row["phone"], "primary": True}] if row["phone"] else [],
        "postal_addresses": _postal(row),
    }
    if row["origin"] is not None:
        data["tagshare:origin"] = {"node_id": row["origin"], "peer": row["peer_name"],
                                   "uuid": row["origin_uuid"], "read_only": True}
    href = f"{base}/people/{uuid}"
    data["_links"] = {"self": link(href), "osdi:taggings": link(f"{href}/taggings"),
                      "osdi:donations": link(f"{href}/donations"),
                      "osdi:canvasses": link(f"{href}/canvasses"), "curies": CURIES}
    return data


def _postal(row: sqlite3.Row) -> list[dict[str, Any]]:
    if not any(row[f] for f in ("address1", "address2", "city", "state", "zip")):
        return []
    address: dict[str, Any] = {"primary": True, "address_lines": [
        line for line in (row["address1"], row["address2"]) if line]}
    for key, column in (("locality", "city"), ("region", "state"), ("postal_code", "zip")):
        if row[column]:
            address[key] = row[column]
    return [address]


def tag(row: sqlite3.Row, base: str) -> dict[str, Any]:
    href = f"{base}/tags/{row['id']}"
    return {"identifiers": [f"tagshare:tag-{row['id']}"], "name": row["name"],
            "_links": {"self": link(href), "osdi:taggings": link(f"{href}/taggings"),
                       "curies": CURIES}}


def tagging(tag_id: int, tag_name: str, person_uuid: str, base: str) -> dict[str, Any]:
    href = f"{base}/tags/{tag_id}/taggings/{person_uuid}"
    return {"identifiers": [f"tagshare:tagging-{tag_id}-{person_uuid}"],
            "tagshare:tag_name": tag_name,
            "_links": {"self": link(href), "osdi:tag": link(f"{base}/tags/{tag_id}"),
                       "osdi:person": link(f"{base}/people/{person_uuid}"), "curies": CURIES}}


def donation(row: sqlite3.Row, base: str) -> dict[str, Any]:
    amount = normalize.format_cents(row["amount_cents"])
    return {"identifiers": [f"tagshare:{row['uuid']}"], "action_date": row["at"],
            "created_date": row["at"], "modified_date": row["at"],
            "amount": amount, "currency": row["currency"],
            "recipients": [{"display_name": "this organization", "amount": amount}],
            "_links": {"self": link(f"{base}/donations/{row['uuid']}"),
                       "osdi:donor": link(f"{base}/people/{row['person']}"), "curies": CURIES}}


def canvass(row: sqlite3.Row, base: str) -> dict[str, Any]:
    return {"identifiers": [f"tagshare:{row['uuid']}"], "action_date": row["at"],
            "created_date": row["at"], "modified_date": row["at"],
            "contact_type": CONTACT_TYPES.get(row["method"], "other"),
            "tagshare:method": row["method"], "status_code": row["outcome"],
            "notes": row["note"], "canvasser": row["by"],
            "_links": {"self": link(f"{base}/canvasses/{row['uuid']}"),
                       "osdi:target": link(f"{base}/people/{row['person']}"), "curies": CURIES}}


# --- reading bodies -------------------------------------------------------------------


def text(body: dict[str, Any], key: str, *, limit: int = MAX_TEXT) -> str | None:
    """An optional string field of a body: a string of at most `limit` characters."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    if len(value) > limit:
        raise InvalidInput(f"{key} is longer than {limit} characters")
    return value


def person_fields(body: dict[str, Any]) -> dict[str, str | None]:
    """The person fields an OSDI person body names; a field given as null (or an empty
    list) is in the answer as None, one not given is absent."""
    fields: dict[str, str | None] = {}
    for key, column in (("given_name", "first_name"), ("family_name", "last_name")):
        if key in body:
            fields[column] = text(body, key)
    for key, column, value_key in (("email_addresses", "email", "address"),
                                   ("phone_numbers", "phone", "number")):
        if key in body:
            chosen = _primary(body[key], key)
            fields[column] = None if chosen is None else text(chosen, value_key)
    if "postal_addresses" in body:
        fields.update(_postal_fields(_primary(body["postal_addresses"], "postal_addresses")))
    return fields


def _primary(value: Any, key: str) -> dict[str, Any] | None:
    """The primary entry (else the first) of an OSDI list such as email_addresses."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 20 or \
            not all(isinstance(entry, dict) for entry in value):
        raise InvalidInput(f"{key} must be a list of objects")
    if not value:
        return None
    chosen: dict[str, Any] = next(
        (entry for entry in value if entry.get("primary") is True), value[0])
    return chosen


def _postal_fields(address: dict[str, Any] | None) -> dict[str, str | None]:
    columns = ("address1", "address2", "city", "state", "zip")
    if address is None:
        return dict.fromkeys(columns)
    fields: dict[str, str | None] = {}
    if "address_lines" in address:
        lines = address["address_lines"]
        if lines is None:
            lines = []
        if not isinstance(lines, list) or len(lines) > 2 or \
                not all(isinstance(line, str) for line in lines):
            raise InvalidInput("address_lines must be a list of at most two strings")
        padded = [*lines, None, None]
        fields["address1"] = text({"address_lines": padded[0]}, "address_lines")
        fields["address2"] = text({"address_lines": padded[1]}, "address_lines")
    for key, column in (("locality", "city"), ("region", "state"), ("postal_code", "zip")):
        if key in address:
            fields[column] = text(address, key)
    return fields


def tag_names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 100 or \
            not all(isinstance(name, str) for name in value):
        raise InvalidInput(f"{key} must be a list of at most 100 tag names")
    return [normalize.normalize_tag(name) for name in value]
