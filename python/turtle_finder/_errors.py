"""The exceptions of turtle_finder: one base, TurtleError, and a class per error kind.

Where a built-in exception fits, it is a base too, so ``except TimeoutError`` and
``except ValueError`` work as they would elsewhere.
"""


class TurtleError(Exception):
    """Base of every turtle_finder error."""


class InvalidArgumentError(TurtleError, ValueError):
    """An unusable argument: a malformed endpoint, a service name with '/' or NUL."""


class UnavailableError(TurtleError, ConnectionError):
    """No member answered within the deadline; the message names each member tried."""


class DeadlineExceededError(TurtleError, TimeoutError):
    """A member answered, but the call did not complete within its deadline."""


class PermissionDeniedError(TurtleError, PermissionError):
    """The cluster refused the credentials or the operation."""


class ClosedError(TurtleError):
    """The finder was closed, or was made in the parent of this process before fork()."""


class InvalidValueError(TurtleError, ValueError):
    """A stored value is not valid UTF-8; read it with get_service_bytes."""


class SessionLostError(TurtleError):
    """The lease a lock or leadership stood on is gone: it is no longer held."""


class ConditionFailedError(TurtleError):
    """A conditional write's condition did not hold (the lock is no longer held, or the
    key changed since the revision given): nothing was written."""


class InternalError(TurtleError):
    """A bug in turtle_finder."""
