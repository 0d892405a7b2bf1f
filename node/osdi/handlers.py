"""OSDI API handlers: parse the request, call node/osdi/service.py, serialize HAL+JSON."""

import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tagshare.node.errors import InvalidInput
from tagshare.node.osdi import filters, resources, service
from tagshare.node.osdi.app import (
    COUNTS,
    DEFAULT_PAGESIZE,
    MAX_PAGESIZE,
    base_url,
    hal,
    in_db,
    read_body,
)

Serialize = Callable[[Any, str], dict[str, Any]]
MAX_PAGE = 1_000_000


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", entry_point)
    router.add_get("/people", list_people)
    router.add_post("/people", post_person)
    router.add_post("/people/person_signup_helper", post_person)
    router.add_get("/people/{id}", get_person)
    router.add_put("/people/{id}", put_person)
    router.add_get("/people/{id}/taggings", person_taggings)
    router.add_get("/people/{id}/donations", person_donations)
    router.add_post("/people/{id}/donations", post_donation)
    router.add_get("/people/{id}/canvasses", person_canvasses)
    router.add_post("/people/{id}/canvasses", post_canvass)
    router.add_get("/tags", list_tags)
    router.add_post("/tags", post_tag)
    router.add_get("/tags/{id}", get_tag)
    router.add_get("/tags/{id}/taggings", tag_taggings)
    router.add_post("/tags/{id}/taggings", post_tagging)
    router.add_get("/tags/{id}/taggings/{person}", get_tagging)
    router.add_delete("/tags/{id}/taggings/{person}", delete_tagging)
    router.add_get("/donations", list_donations)
    router.add_post("/donations", post_donation)
    router.add_get("/donations/{id}", get_donation)
    router.add_get("/canvasses", list_canvasses)
    router.add_post("/canvasses", post_canvass)
    router.add_get("/canvasses/{id}", get_canvass)


async def entry_point(request: web.Request) -> web.Response:
    base = base_url(request)
    links = {rel: resources.link(f"{base}/{path}") for rel, path in (
        ("osdi:people", "people"), ("osdi:tags", "tags"), ("osdi:donations", "donations"),
        ("osdi:canvasses", "canvasses"),
        ("osdi:person_signup_helper", "people/person_signup_helper"))}
    return hal({"motd": "tagshare OSDI API", "max_pagesize": MAX_PAGESIZE,
                "vendor_name": "tagshare", "product_name": "tagshare", "osdi_version": "1.2",
                "_links": {"self": resources.link(f"{base}/"), **links,
                           "curies": resources.CURIES}})


# --- paging ---------------------------------------------------------------------------


def _number(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise InvalidInput(f"{name} must be a whole number from 1")
    return min(int(raw), high)


def _paging(request: web.Request) -> tuple[int, int]:
    return (_number(request, "page", 1, MAX_PAGE),
            _number(request, "per_page", DEFAULT_PAGESIZE, MAX_PAGESIZE))


def _collection(request: web.Request, rel: str, page: int, per_page: int,
                result: service.Page, serialize: Serialize) -> web.Response:
    """One page in OSDI's shape; past the last page `_embedded` holds an empty list."""
    base = base_url(request)
    items = [serialize(row, base) for row in result.rows]
    total_pages = math.ceil(result.total / per_page)
    kept = {key: value for key, value in request.query.items() if key == "filter"}

    def page_link(number: int) -> dict[str, str]:
        query = urlencode({**kept, "page": number, "per_page": per_page})
        return resources.link(f"{request.scheme}://{request.host}{request.path}?{query}")

    links: dict[str, Any] = {"self": page_link(page)}
    if page < total_pages:
        links["next"] = page_link(page + 1)
    if page > 1:
        links["previous"] = page_link(page - 1)
    links[rel] = [item["_links"]["self"] for item in items]
    links["curies"] = resources.CURIES
    return hal({"total_pages": total_pages, "per_page": per_page, "page": page,
                "total_records": result.total, "_links": links, "_embedded": {rel: items}})


# --- people ---------------------------------------------------------------------------


async def list_people(request: web.Request) -> web.Response:
    page, per_page = _paging(request)
    condition = filters.parse_filter(request.query.get("filter"))
    counts = request.app[COUNTS]
    result = await in_db(request, lambda node: service.people_page(
        node, condition, per_page, (page - 1) * per_page, counts))
    return _collection(request, "osdi:people", page, per_page, result, resources.person)


async def get_person(request: web.Request) -> web.Response:
    row = await in_db(request, lambda node: service.get_person(node, request.match_info["id"]))
    return hal(resources.person(row, base_url(request)))


async def post_person(request: web.Request) -> web.Response:
    """POST /people and the signup helper: `{"person": {...}, "add_tags": [...]}`, or a
    bare person object."""
    body = await read_body(request)
    person = body.get("person", body)
    if not isinstance(person, dict):
        raise InvalidInput("person must be an object")
    fields = resources.person_fields(person)
    add, remove = resources.tag_names(body, "add_tags"), resources.tag_names(body, "remove_tags")
    uuid, _created = await in_db(
        request, lambda node: service.upsert_person(node, fields, add, remove))
    row = await in_db(request, lambda node: service.get_person(node, uuid))
    return hal(resources.person(row, base_url(request)))


async def put_person(request: web.Request) -> web.Response:
    body = await read_body(request)
    fields = resources.person_fields(body)
    add, remove = resources.tag_names(body, "add_tags"), resources.tag_names(body, "remove_tags")
    uuid = await in_db(request, lambda node: service.update_person(
        node, request.match_info["id"], fields, add, remove))
    row = await in_db(request, lambda node: service.get_person(node, uuid))
    return hal(resources.person(row, base_url(request)))


# --- tags and taggings ----------------------------------------------------------------


async def list_tags(request: web.Request) -> web.Response:
    page, per_page = _paging(request)
    result = await in_db(request, lambda node: service.tags_page(
        node, per_page, (page - 1) * per_page))
    return _collection(request, "osdi:tags", page, per_page, result, resources.tag)


async def get_tag(request: web.Request) -> web.Response:
    row = await in_db(request, lambda node: service.get_tag(node, request.match_info["id"]))
    return hal(resources.tag(row, base_url(request)))


async def post_tag(request: web.Request) -> web.Response:
    name = resources.text(await read_body(request), "name", limit=200)
    if name is None:
        raise InvalidInput("a tag needs a name")
    row = await in_db(request, lambda node: service.create_tag(node, name))
    return hal(resources.tag(row, base_url(request)))


def _tagging(row: Any, base: str) -> dict[str, Any]:
    return resources.tagging(row["tag"], row["name"], row["person"], base)


async def tag_taggings(request: web.Request) -> web.Response:
    page, per_page = _paging(request)
    result = await in_db(request, lambda node: service.taggings_page(
        node, tag=request.match_info["id"], limit=per_page, offset=(page - 1) * per_page))
    return _collection(request, "osdi:taggings", page, per_page, result, _tagging)


async def person_taggings(request: web.Request) -> web.Response:
    page, per_page = _paging(request)
    result = await in_db(request, lambda node: service.taggings_page(
        node, person=request.match_info["id"], limit=per_page, offset=(page - 1) * per_page))
    return _collection(request, "osdi:taggings", page, per_page, result, _tagging)


async def post_tagging(request: web.Request) -> web.Response:
    """`{"_links": {"osdi:person": {"href": ".../people/<id>"}}}`."""
    person = linked_id(await read_body(request), "osdi:person")
    tag, uuid = await in_db(request, lambda node: service.add_tagging(
        node, request.match_info["id"], person))
    return hal(resources.tagging(tag["id"], tag["name"], uuid, base_url(request)))


async def get_tagging(request: web.Request) -> web.Response:
    tag, uuid = await in_db(request, lambda node: service.get_tagging(
        node, request.match_info["id"], request.match_info["person"]))
    return hal(resources.tagging(tag["id"], tag["name"], uuid, base_url(request)))


async def delete_tagging(request: web.Request) -> web.Response:
    await in_db(request, lambda node: service.remove_tagging(
        node, request.match_info["id"], request.match_info["person"]))
    return hal({"notice": "This tagging was successfully deleted."})


def linked_id(body: dict[str, Any], *rels: str) -> str:
    """The id at the end of the first of `rels` found in the body's `_links`."""
    links = body.get("_links")
    if isinstance(links, dict):
        for rel in rels:
            target = links.get(rel)
            href = target.get("href") if isinstance(target, dict) else None
            if isinstance(href, str) and len(href) < 2000:
                return href.rstrip("/").rsplit("/", 1)[-1]
    raise InvalidInput(f"the body needs _links with {' or '.join(rels)} and an href")


# --- donations and canvasses (field contacts) ------------------------------------------


def _activity_list(table: str, rel: str, serialize: Serialize, *, by_person: bool) -> Any:
    async def handler(request: web.Request) -> web.Response:
        page, per_page = _paging(request)
        person = request.match_info["id"] if by_person else None
        result = await in_db(request, lambda node: service.activity_page(
            node, table, person, per_page, (page - 1) * per_page))
        return _collection(request, rel, page, per_page, result, serialize)
    return handler


def _activity_one(table: str, serialize: Serialize) -> Any:
    async def handler(request: web.Request) -> web.Response:
        row = await in_db(request, lambda node: service.get_activity(
            node, table, request.match_info["id"]))
        return hal(serialize(row, base_url(request)))
    return handler


list_donations = _activity_list("donations", "osdi:donations", resources.donation,
                                by_person=False)
person_donations = _activity_list("donations", "osdi:donations", resources.donation,
                                  by_person=True)
get_donation = _activity_one("donations", resources.donation)
list_canvasses = _activity_list("contacts", "osdi:canvasses", resources.canvass,
                                by_person=False)
person_canvasses = _activity_list("contacts", "osdi:canvasses", resources.canvass,
                                  by_person=True)
get_canvass = _activity_one("contacts", resources.canvass)


def _person_of(request: web.Request, body: dict[str, Any], *rels: str) -> str:
    return request.match_info.get("id") or linked_id(body, *rels)


async def post_donation(request: web.Request) -> web.Response:
    """`{"amount": "25.00", "currency": "USD", "action_date": ..., "_links":
    {"osdi:donor": {"href": ".../people/<id>"}}}` (or under /people/{id}/donations)."""
    body = await read_body(request)
    person = _person_of(request, body, "osdi:donor", "osdi:person")
    amount = body.get("amount")
    recipients = body.get("recipients")
    if amount is None and isinstance(recipients, list) and len(recipients) == 1 \
            and isinstance(recipients[0], dict):
        amount = recipients[0].get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        amount = str(amount)
    if not isinstance(amount, str) or len(amount) > 30:
        raise InvalidInput("a donation needs an amount such as \"25.00\"")
    currency = resources.text(body, "currency", limit=10) or "USD"
    at = resources.text(body, "action_date", limit=60)
    row = await in_db(request, lambda node: service.add_donation(
        node, person, amount=amount, currency=currency, at=at))
    return hal(resources.donation(row, base_url(request)))


async def post_canvass(request: web.Request) -> web.Response:
    """A field contact: `contact_type` (in-person, phone, sms, email, other) or
    `tagshare:method`, `status_code` (the outcome), `notes`, `canvasser`, `action_date`,
    and `_links` `osdi:target` (or under /people/{id}/canvasses)."""
    body = await read_body(request)
    person = _person_of(request, body, "osdi:target", "osdi:person")
    method = resources.text(body, "tagshare:method", limit=20)
    if method is None:
        kind = resources.text(body, "contact_type", limit=20) or "other"
        if kind not in resources.METHOD_OF_TYPE:
            raise InvalidInput(f"unknown contact_type {kind!r}: use one of "
                               + ", ".join(resources.METHOD_OF_TYPE))
        method = resources.METHOD_OF_TYPE[kind]
    outcome = resources.text(body, "status_code", limit=2000)
    note = resources.text(body, "notes", limit=2000)
    by = resources.text(body, "canvasser", limit=2000)
    at = resources.text(body, "action_date", limit=60)
    row = await in_db(request, lambda node: service.add_canvass(
        node, person, method=method, outcome=outcome, note=note, at=at, by=by))
    return hal(resources.canvass(row, base_url(request)))

