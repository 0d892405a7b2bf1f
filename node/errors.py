"""Errors a node reports to its operator.

Each one carries a message that says what went wrong and what to do; the CLI
prints it on one line and exits 1. Anything else escaping is our bug.
"""


class NodeError(Exception):
    """A failure the operator can understand and act on."""


class InvalidInput(NodeError):
    """A value given on the command line or in a file is not acceptable."""


class NotFound(NodeError):
    """The thing named does not exist on this node."""


class Ambiguous(NodeError):
    """The name given matches more than one thing."""


class NodeExists(NodeError):
    """`init` was asked to create a node where one already lives."""


class NoNode(NodeError):
    """The home folder holds no node."""


class SchemaTooNew(NodeError):
    """The database was written by a newer tagshare than this one."""
