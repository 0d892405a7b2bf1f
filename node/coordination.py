"""Field work in concert: no double knocks, and who else reached the same people.

Contacts reach a node from every organization whose share carries them back,
and they attach to received copies or to the node's own person. A person
counts as contacted when any row that is the same human (the local person and
its linked received copies) has a contact, from whichever organization.
"""

from datetime import UTC, datetime
from typing import Any

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput
from tagshare.node.node import Node
from tagshare.node.storage import coordination as store

DEFAULT_WINDOW = "14d"


def window_start(raw: str, option: str = "--since") -> str:
    """The start of a window such as '14d' that ends now, as a stored timestamp."""
    try:
        return normalize.iso(datetime.now(UTC) - normalize.parse_duration(raw))
    except OverflowError:
        raise InvalidInput(f"{option} {raw} reaches back before the year 1: "
                           "give a shorter window, e.g. 14d") from None


def contact_overlap(node: Node, since: str = DEFAULT_WINDOW) -> list[dict[str, Any]]:
    """People contacted by more than one organization in the window, with every contact."""
    rows = store.overlapping_contacts(node.conn, window_start(since))
    overlaps: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = overlaps.get(row["human"])
        if entry is None:
            name = " ".join(filter(None, [row["first_name"], row["last_name"]]))
            entry = overlaps[row["human"]] = {
                "person": {"uuid": row["human"], "name": name, "origin": row["human_origin"]},
                "contacts": [], "organizations": []}
        organization = (node.config.name if row["origin"] is None
                        else row["peer_name"] or row["origin"])
        entry["contacts"].append({
            "organization": organization, "origin": row["origin"], "method": row["method"],
            "outcome": row["outcome"], "at": row["at"], "by": row["by"],
            "on": row["person"]})
        if organization not in entry["organizations"]:
            entry["organizations"].append(organization)
    return list(overlaps.values())
