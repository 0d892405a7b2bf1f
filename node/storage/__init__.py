"""The storage layer: every SQL statement of a node lives in this package."""
