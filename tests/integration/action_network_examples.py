"""Answers shaped like Action Network's documented API v2 examples (people, tags,
taggings), written for these tests from the documented shape: HAL links on an
actionnetwork.org host, `action_network:` identifiers, subscription statuses,
10-digit phone numbers, geocoded addresses, custom fields, `languages_spoken`."""

from __future__ import annotations

from typing import Any

AN = "https://actionnetwork.org/api/v2"
CURIES = [{"name": "osdi", "href": "https://actionnetwork.org/docs/v2/{rel}", "templated": True},
          {"name": "action_network", "href": "https://actionnetwork.org/docs/v2/{rel}",
           "templated": True}]

PEOPLE_IDS = ["d91b4b2e-ae0e-4cd3-9ed7-d0ec501b0bc3", "1efc3644-af25-4253-90b8-a0baf12dbd1e",
              "f6a1b7c2-3d4e-4f50-8a6b-7c8d9e0f1a2b"]


def person(index: int, *, email: str, given: str, family: str, phone: str | None,
           modified: str) -> dict[str, Any]:
    uuid = PEOPLE_IDS[index]
    href = f"{AN}/people/{uuid}"
    data: dict[str, Any] = {
        "identifiers": [f"action_network:{uuid}", f"foreign_system:{index + 1}"],
        "created_date": "2014-03-20T21:04:31Z", "modified_date": modified,
        "family_name": family, "given_name": given, "languages_spoken": ["en"],
        "email_addresses": [{"primary": True, "address": email, "status": "subscribed"}],
        "postal_addresses": [{
            "primary": True, "address_lines": ["1900 Pennsylvania Ave"],
            "locality": "Washington", "region": "DC", "postal_code": "20009", "country": "US",
            "language": "en",
            "location": {"latitude": 38.919, "longitude": -77.0379, "accuracy": "Rooftop"}}],
        "custom_fields": {"volunteer_interest": "phonebank"},
        "_links": {"self": {"href": href}, "osdi:attendances": {"href": f"{href}/attendances"},
                   "osdi:signatures": {"href": f"{href}/signatures"},
                   "osdi:submissions": {"href": f"{href}/submissions"},
                   "osdi:donations": {"href": f"{href}/donations"},
                   "osdi:outreaches": {"href": f"{href}/outreaches"},
                   "osdi:taggings": {"href": f"{href}/taggings"}, "curies": CURIES}}
    if phone is not None:
        data["phone_numbers"] = [{"primary": True, "number": phone, "number_type": "Mobile",
                                  "status": "subscribed"}]
    return data


PEOPLE = [
    person(0, email="jsmith@mail.com", given="John", family="Smith", phone="12024444444",
           modified="2014-03-20T21:04:31Z"),
    person(1, email="janedoe@mail.com", given="Jane", family="Doe", phone=None,
           modified="2014-03-24T18:03:45Z"),
    person(2, email="ana.r@mail.com", given="Ana", family="Ruiz", phone="2025551234",
           modified="2014-03-25T10:00:00Z"),
]

TAG_ID = "71f8feef-61c8-4e6b-9745-ec1d7752f298"
TAGS = [{"name": "Volunteers", "created_date": "2014-03-25T17:11:33Z",
         "modified_date": "2014-03-25T17:13:33Z",
         "identifiers": [f"action_network:{TAG_ID}"],
         "_links": {"self": {"href": f"{AN}/tags/{TAG_ID}"},
                    "osdi:taggings": {"href": f"{AN}/tags/{TAG_ID}/taggings"},
                    "curies": CURIES}}]


def tagging(person_index: int) -> dict[str, Any]:
    tagging_id = f"82e909f9-1ac7-4952-bbd4-b4690a14bec{person_index}"
    return {"identifiers": [f"action_network:{tagging_id}"],
            "created_date": "2014-03-18T22:25:31Z", "modified_date": "2014-03-18T22:25:38Z",
            "item_type": "osdi:person",
            "_links": {"self": {"href": f"{AN}/tags/{TAG_ID}/taggings/{tagging_id}"},
                       "osdi:tag": {"href": f"{AN}/tags/{TAG_ID}"},
                       "osdi:person": {"href": f"{AN}/people/{PEOPLE_IDS[person_index]}"},
                       "curies": CURIES}}


def collection(rel: str, path: str, items: list[dict[str, Any]], page: int,
               per_page: int = 2) -> dict[str, Any]:
    """Action Network's page: total_pages, per_page, page, total_records, links."""
    total_pages = max(1, -(-len(items) // per_page))
    chosen = items[(page - 1) * per_page: page * per_page]
    links: dict[str, Any] = {"self": {"href": f"{AN}/{path}?page={page}"},
                             rel: [item["_links"]["self"] for item in chosen],
                             "curies": CURIES}
    if page < total_pages:
        links["next"] = {"href": f"{AN}/{path}?page={page + 1}"}
    return {"total_pages": total_pages, "per_page": per_page, "page": page,
            "total_records": len(items), "_links": links, "_embedded": {rel: chosen}}
