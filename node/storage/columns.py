"""The person fields every part of a node names in one order: a leaf module, so that
the import's cleaner process (node/import_worker.py) can know them without importing
the storage layer."""

PERSON_FIELDS = (
    "first_name", "last_name", "email", "phone",
    "address1", "address2", "city", "state", "zip",
)
