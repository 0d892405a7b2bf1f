"""The OSDI API on real nodes: a write through it is an ordinary write that subscribers
of a shared tag receive live, like a CLI change."""

from __future__ import annotations

import aiohttp
from shares_helpers import TAG, Trio, wait_until

from tagshare.node.osdi import tokens

API = "/api/osdi/v1"


async def test_a_signup_through_the_api_reaches_the_subscriber(trio: Trio) -> None:
    party, a = trio.party, trio.a
    await trio.active(a, fields="all")
    token = tokens.create_token(party.op, "signup-form", scope="write")["token"]
    headers = {"OSDI-API-Token": token}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{party.url}{API}/people/person_signup_helper", headers=headers,
                             json={"person": {
                                 "given_name": "Ann", "family_name": "Lee",
                                 "email_addresses": [{"address": "ann@example.org"}],
                                 "phone_numbers": [{"number": "614 555 0101"}]},
                                 "add_tags": [TAG]}) as response:
            assert response.status == 200
            person = await response.json(content_type=None)
        uuid = person["identifiers"][0].split(":", 1)[1]
        row = await wait_until(lambda: a.copy_of(party, uuid), message="Ann reaches A")
        assert (row["first_name"], row["email"], row["phone"]) == (
            "Ann", "ann@example.org", "+16145550101")

        # an edit through the API follows the same way
        async with http.put(f"{party.url}{API}/people/{uuid}", headers=headers,
                            json={"postal_addresses": [{"locality": "Dayton"}]}) as response:
            assert response.status == 200
        await wait_until(lambda: (a.copy_of(party, uuid) or {"city": None})["city"] == "Dayton",
                         message="the edit reaches A")

        # A sees the received person through its own API, read-only
        reader = tokens.create_token(a.op, "parsons", scope="write")["token"]
        copy = a.copy_of(party, uuid)
        assert copy is not None
        async with http.put(f"{a.url}{API}/people/{copy['uuid']}",
                            headers={"OSDI-API-Token": reader},
                            json={"given_name": "Mallory"}) as response:
            assert response.status == 403
            assert "read-only" in (await response.json(content_type=None))["error"]
    assert a.copy_of(party, uuid)["first_name"] == "Ann"
