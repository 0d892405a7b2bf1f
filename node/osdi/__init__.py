"""The OSDI door: the API that Parsons, signup forms and scripts use (docs/osdi.md), its
tokens, and pulling people from another OSDI server such as Action Network."""
