"""What the demo's nodes hold: made-up but realistic Ohio people from a seeded generator.

Emails use the reserved example.* domains and phone numbers are valid US
numbers in Ohio area codes, so nothing here reaches a real person.
"""

import random
import time
from dataclasses import dataclass

from tagshare.node import people as people_ops
from tagshare.node.node import Node

VOLUNTEERS, KNOCKED, DONORS = "volunteers", "knocked", "donors"
VOLUNTEER_SHARE, DONOR_SHARE, KNOCKED_SHARE = 0.4, 0.15, 0.5

FIRST_NAMES = (
    "Maria", "James", "Aaliyah", "Robert", "Keisha", "Michael", "Priya", "David", "Sofia",
    "William", "Grace", "Joseph", "Fatima", "Daniel", "Hannah", "Marcus", "Emily", "Luis",
    "Olivia", "Andre", "Chloe", "Kevin", "Amara", "Thomas", "Rosa", "Brian", "Mei", "Jamal",
    "Sarah", "Carlos", "Abigail", "Tyrone", "Nadia", "Patrick", "Imani", "Ethan", "Lucia",
    "Samuel", "Zoe", "Darnell", "Anna", "Hector", "Leah", "Omar", "Megan", "Victor", "Tanya",
    "Caleb", "Yusuf", "Brianna", "Gregory", "Ines", "Dwayne", "Katie", "Mohammed", "Erin",
)
LAST_NAMES = (
    "Johnson", "Williams", "Garcia", "Brown", "Nguyen", "Miller", "Davis", "Rodriguez",
    "Wilson", "Martinez", "Anderson", "Taylor", "Thomas", "Hernandez", "Moore", "Jackson",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Hill", "Green", "Adams",
    "Baker", "Nelson", "Campbell", "Mitchell", "Roberts", "Patel", "Kowalski", "Schmidt",
    "Okonkwo", "Murphy", "Kelly", "Sullivan", "Novak", "Hoffman", "Yoder", "Weber", "Shah",
)
STREETS = (
    "High St", "Main St", "Oak St", "Maple Ave", "Broad St", "Elm St", "Lincoln Ave",
    "Washington Blvd", "Park Ave", "Summit St", "Cedar Rd", "Euclid Ave", "Lakeview Dr",
    "Riverside Dr", "Church St", "Front St", "Walnut St", "Sycamore Ln", "Mill Rd", "Hamilton Rd",
)
# City, area codes, ZIP codes: real combinations, so the data looks like an Ohio file.
CITIES = (
    ("Columbus", ("614", "380"), ("43201", "43205", "43206", "43211", "43215", "43224")),
    ("Cleveland", ("216",), ("44102", "44105", "44109", "44113", "44120")),
    ("Cincinnati", ("513",), ("45202", "45206", "45211", "45219", "45229")),
    ("Toledo", ("419", "567"), ("43604", "43607", "43610", "43613")),
    ("Akron", ("330", "234"), ("44301", "44303", "44307", "44310")),
    ("Dayton", ("937",), ("45402", "45405", "45406", "45410")),
    ("Youngstown", ("330",), ("44502", "44504", "44505")),
    ("Canton", ("330",), ("44702", "44703", "44705")),
    ("Athens", ("740",), ("45701",)),
    ("Lorain", ("440",), ("44052", "44053", "44055")),
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
DOOR_OUTCOMES = ("supporter", "leaning", "undecided", "not home", "moved")


@dataclass
class PeopleMaker:
    """Hands out people with distinct emails and phones from one seeded generator."""

    rng: random.Random
    used_emails: set[str]
    used_phones: set[str]

    @classmethod
    def seeded(cls, seed: int) -> "PeopleMaker":
        return cls(random.Random(seed), set(), set())

    def person(self) -> dict[str, str | None]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        city, area_codes, zips = self.rng.choice(CITIES)
        unit = f"Apt {self.rng.randint(1, 24)}" if self.rng.random() < 0.2 else None
        return {
            "first_name": first, "last_name": last,
            "email": self._email(first, last), "phone": self.phone(area_codes),
            "address1": f"{self.rng.randint(10, 9899)} {self.rng.choice(STREETS)}",
            "address2": unit, "city": city, "state": "OH", "zip": self.rng.choice(zips),
        }

    def people(self, count: int) -> list[dict[str, str | None]]:
        return [self.person() for _ in range(count)]

    def phone(self, area_codes: tuple[str, ...] = ("614",)) -> str:
        """A valid, unused number such as (614) 274-3391 (no N11 exchange, no 555)."""
        while True:
            exchange = self.rng.randint(200, 999)
            if exchange % 100 == 11 or exchange == 555:
                continue
            number = (f"({self.rng.choice(area_codes)}) {exchange}-"
                      f"{self.rng.randint(0, 9999):04d}")
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def _email(self, first: str, last: str) -> str:
        style = self.rng.randrange(3)
        local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[:1]}")[style].lower()
        domain = self.rng.choice(EMAIL_DOMAINS)
        email, suffix = f"{local}@{domain}", 2
        while email in self.used_emails:
            email, suffix = f"{local}{suffix}@{domain}", suffix + 1
        self.used_emails.add(email)
        return email

    def door_outcome(self) -> str:
        return self.rng.choice(DOOR_OUTCOMES)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability


def load_party(node: Node, maker: PeopleMaker, count: int) -> int:
    """The party's file: about 40% volunteers, some donors; returns how many volunteers."""
    volunteers = 0
    for person in maker.people(count):
        tags = [VOLUNTEERS] if maker.chance(VOLUNTEER_SHARE) else []
        volunteers += len(tags)
        if maker.chance(DONOR_SHARE):
            tags.append(DONORS)
        people_ops.add_person(node, person, tags)
    return volunteers


def load_campaign(node: Node, maker: PeopleMaker, count: int, *, knocks: bool, by: str) -> int:
    """A campaign's own list; with `knocks`, half already had a door knock in the last weeks."""
    knocked = 0
    for person in maker.people(count):
        uuid = people_ops.add_person(node, person, [])
        if knocks and maker.chance(KNOCKED_SHARE):
            log_door_knock(node, maker, uuid, by=by, days_ago=maker.rng.randint(1, 20))
            knocked += 1
    return knocked


def log_door_knock(node: Node, maker: PeopleMaker, person: str, *, by: str,
                   days_ago: int = 0) -> str:
    """Tag the person `knocked` and log a door contact; returns the contact's uuid."""
    at = None
    if days_ago:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days_ago * 86_400))
    people_ops.add_tags(node, person, [KNOCKED])
    return people_ops.add_contact(node, person, method="door", outcome=maker.door_outcome(),
                                  note=None, at=at, by=by)
