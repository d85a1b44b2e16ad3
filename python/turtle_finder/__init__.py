"""turtle_finder: service discovery on etcd v3, a drop-in for the seed's service_finder.

import turtle_finder as service_finder
sf = service_finder.ServiceFinder()          # members from TURTLE_ENDPOINTS
sf.get_service("cdd")
sf.watch_service("cdd", callback)            # callback(new_value), on turtle's own thread
"""

import atexit

from ._errors import (
    ClosedError,
    ConditionFailedError,
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    InvalidValueError,
    PermissionDeniedError,
    SessionLostError,
    TurtleError,
    UnavailableError,
)
from ._native import (
    Candidacy,
    Change,
    Compare,
    Entry,
    Instance,
    Instances,
    Leader,
    Leadership,
    Lock,
    LockSession,
    Member,
    MemberStatus,
    Op,
    Registration,
    ServiceFinder,
    Txn,
    TxnResult,
    Watch,
    __version__,
    _close_all,
)

# Live finders are closed before the interpreter shuts down, so no callback runs then.
atexit.register(_close_all)

__all__ = [
    "Candidacy",
    "Change",
    "ClosedError",
    "Compare",
    "ConditionFailedError",
    "DeadlineExceededError",
    "Entry",
    "Instance",
    "Instances",
    "InternalError",
    "InvalidArgumentError",
    "InvalidValueError",
    "Leader",
    "Leadership",
    "Lock",
    "LockSession",
    "Member",
    "MemberStatus",
    "Op",
    "PermissionDeniedError",
    "Registration",
    "ServiceFinder",
    "SessionLostError",
    "TurtleError",
    "Txn",
    "TxnResult",
    "UnavailableError",
    "Watch",
    "__version__",
]
