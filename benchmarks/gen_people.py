"""Deterministic generator of a realistic people CSV for the benchmarks.

    python benchmarks/gen_people.py --rows 1000000 --out /tmp/people.csv

Columns: first_name,last_name,email,phone,address1,address2,city,state,zip,tags
(the import's own column names). The same --rows and --seed always give the
same bytes. Stdlib only.

Every row is a distinct person as far as `people import` is concerned: emails
and phone numbers are unique by construction (a bijection from the row
number), so importing N rows must add exactly N people. Each row carries two
distinct tags as a quoted comma list, e.g. "volunteers,2026-canvass", so the
import must add exactly 2N taggings. Phones are valid Ohio numbers in a mix of
the formats people type; exchanges avoid N11 and 555.
"""

import argparse
import csv
import math
import random
import sys
from pathlib import Path


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


HEADER = ("first_name", "last_name", "email", "phone", "address1", "address2",
          "city", "state", "zip", "tags")

FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Dorothy Jason Rebecca Edward Sharon Jeffrey Laura Ryan Cynthia "
    "Jacob Amy Gary Kathleen Nicholas Angela Eric Shirley Jonathan Brenda Stephen Emma "
    "Larry Anna Justin Pamela Scott Nicole Brandon Samantha Benjamin Katherine Samuel "
    "Christine Gregory Debra Alexander Rachel Patrick Carolyn Frank Janet Raymond Maria "
    "Jack Olivia Dennis Heather Jerry Helen Tyler Catherine Aaron Diane Jose Julie Adam "
    "Victoria Nathan Joyce Henry Lauren Zachary Kelly Douglas Christina Peter Ruth Kyle "
    "Joan Noah Virginia Ethan Judith Jeremy Evelyn Walter Hannah Christian Andrea Keith "
    "Megan Roger Cheryl Terry Jacqueline Austin Madison Sean Teresa Gerald Abigail Carl "
    "Sophia Harold Martha Dylan Sara Arthur Gloria Lawrence Janice Jordan Kathryn Jesse "
    "Ann Bryan Isabella Billy Judy Bruce Charlotte Gabriel Julia Joe Grace Logan Amber "
    "Alan Alice Juan Jean Albert Denise Willie Frances Elijah Danielle Wayne Marilyn Randy "
    "Natalie Vincent Beverly Mason Diana Roy Brittany Ralph Theresa Bobby Kayla Russell "
    "Alexis Bradley Doris Philip Lori Eugene Tiffany DeShawn Aaliyah Jamal Keisha Luis "
    "Guadalupe Carlos Rosa Miguel Ana Wei Mei Priya Rahul Fatima Omar Nguyen Linh"
)

LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell "
    "Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes "
    "Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson "
    "Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood "
    "James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers "
    "Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler "
    "Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander "
    "Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson "
    "Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez "
    "McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman "
    "Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason "
    "Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar "
    "Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto "
    "Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez "
    "Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson "
    "Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston "
    "Matthews Pena Richards Willis Carpenter Lawrence Sandoval O'Brien O'Neil McCarthy "
    "Kowalski Nowak Schneider Mueller Yoder Hochstetler Zimmerman Schwartz DiSalvo Russo"
)

# (city, area code, first three digits of its zip codes)
CITIES = (
    ("Columbus", "614", "432"), ("Westerville", "614", "430"), ("Dublin", "614", "430"),
    ("Cleveland", "216", "441"), ("Lakewood", "216", "441"), ("Parma", "216", "441"),
    ("Cincinnati", "513", "452"), ("Hamilton", "513", "450"), ("Mason", "513", "450"),
    ("Akron", "330", "443"), ("Canton", "330", "447"), ("Youngstown", "330", "445"),
    ("Toledo", "419", "436"), ("Lima", "419", "458"), ("Sandusky", "419", "448"),
    ("Dayton", "937", "454"), ("Springfield", "937", "455"), ("Kettering", "937", "454"),
    ("Newark", "740", "430"), ("Athens", "740", "457"), ("Zanesville", "740", "437"),
)
AREA_CODES = ("614", "216", "513", "330", "419", "937", "740")
# Central-office codes a real number can have: 2xx-9xx, not N11, not 555.
EXCHANGES = tuple(
    f"{n}" for n in range(200, 1000) if n % 100 != 11 and n != 555
)

STREETS = (
    "Main St", "High St", "Broad St", "Oak St", "Maple Ave", "Elm St", "Park Ave",
    "Washington St", "Lake Ave", "Church St", "Walnut St", "Cedar Ln", "Sunset Blvd",
    "Riverside Dr", "Hillcrest Rd", "Jefferson Ave", "Lincoln Way", "Market St",
    "Euclid Ave", "Superior Ave", "Vine St", "Ludlow Ave", "Summit St", "Indianola Ave",
    "Cleveland Ave", "Karl Rd", "Morse Rd", "Sawmill Rd", "Far Hills Ave", "Wooster Pike",
)
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com",
           "icloud.com", "att.net", "sbcglobal.net", "osu.edu", "protonmail.com")
FIRST_TAGS = ("volunteers", "donors", "members", "prospects")
SECOND_TAGS = ("2026-canvass", "2024-gotv", "phonebank", "yard-sign", "newsletter",
               "house-party", "precinct-captain")


def _permutation(capacity: int, rng: random.Random) -> tuple[int, int]:
    """(multiplier, offset) of an affine bijection on range(capacity)."""
    while True:
        multiplier = rng.randrange(capacity // 3, capacity)
        if math.gcd(multiplier, capacity) == 1:
            return multiplier, rng.randrange(capacity)


def _phone(index: int, rng: random.Random) -> str:
    area = AREA_CODES[index % len(AREA_CODES)]
    rest = index // len(AREA_CODES)
    exchange = EXCHANGES[rest % len(EXCHANGES)]
    line = f"{rest // len(EXCHANGES):04d}"
    style = rng.random()
    if style < 0.35:
        return f"({area}) {exchange}-{line}"
    if style < 0.6:
        return f"{area}.{exchange}.{line}"
    if style < 0.8:
        return f"+1 {area}-{exchange}-{line}"
    return f"{area}-{exchange}-{line}"


def _email(first: str, last: str, serial: int, rng: random.Random) -> str:
    f = "".join(ch for ch in first.lower() if ch.isalpha())
    la = "".join(ch for ch in last.lower() if ch.isalpha())
    style = rng.random()
    # `serial` is unique per row, so every address is unique.
    if style < 0.4:
        local = f"{f}.{la}{serial}"
    elif style < 0.7:
        local = f"{f[0]}{la}{serial}"
    elif style < 0.9:
        local = f"{f}{serial}"
    else:
        local = f"{la}.{f}.{serial}"
    return f"{local}@{rng.choice(DOMAINS)}"


def rows(count: int, seed: int = 2026):
    """Yield `count` rows (tuples in HEADER order)."""
    rng = random.Random(seed)
    phone_space = len(AREA_CODES) * len(EXCHANGES) * 10_000
    if count > phone_space:
        raise ValueError(f"at most {phone_space} rows")
    p_mul, p_add = _permutation(phone_space, rng)
    e_mul, e_add = _permutation(10_000_000, rng)
    for i in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        city, _area, zip3 = rng.choice(CITIES)
        number = rng.randrange(100, 9999)
        address1 = f"{number} {rng.choice(STREETS)}"
        roll = rng.random()
        if roll < 0.12:
            address2 = f"Apt {rng.randrange(1, 40)}{rng.choice('ABCD')}"
        elif roll < 0.15:
            address2 = f"Unit {rng.randrange(100, 999)}"
        else:
            address2 = ""
        zip_code = f"{zip3}{rng.randrange(1, 99):02d}"
        phone = _phone((p_mul * i + p_add) % phone_space, rng)
        email = _email(first, last, (e_mul * i + e_add) % 10_000_000, rng)
        tags = f"{rng.choice(FIRST_TAGS)},{rng.choice(SECOND_TAGS)}"
        yield (first, last, email, phone, address1, address2, city, "OH", zip_code, tags)


def write(count: int, out: Path, seed: int = 2026) -> None:
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows(count, seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    write(args.rows, args.out, args.seed)
    print(f"wrote {args.rows} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
