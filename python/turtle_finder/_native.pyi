"""Type stubs of the native module turtle_finder._native."""

import os
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, final

__all__ = [
    "Change",
    "Instance",
    "Instances",
    "Member",
    "MemberStatus",
    "Registration",
    "ServiceFinder",
    "Watch",
    "__version__",
    "_close_all",
]
__version__: str

def _close_all(timeout: float = 2.0) -> None: ...
@final
class Change:
    @property
    def service(self) -> str: ...
    @property
    def value(self) -> str | None: ...
    @property
    def value_bytes(self) -> bytes | None: ...
    @property
    def revision(self) -> int: ...
    @property
    def kind(self) -> Literal["initial", "put", "delete", "reset"]: ...
    @property
    def skipped(self) -> int: ...

@final
class Instance:
    @property
    def id(self) -> str: ...
    @property
    def addr(self) -> str: ...
    @property
    def metadata(self) -> Any: ...
    @property
    def revision(self) -> int: ...

@final
class Instances:
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Instance]: ...
    def __getitem__(self, index: int) -> Instance: ...
    @property
    def service(self) -> str: ...
    @property
    def malformed(self) -> list[tuple[str, str]]: ...
    @property
    def revision(self) -> int: ...
    @property
    def kind(self) -> Literal["initial", "put", "delete", "reset"]: ...

@final
class Member:
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def client_urls(self) -> list[str]: ...
    @property
    def peer_urls(self) -> list[str]: ...
    @property
    def is_leader(self) -> bool: ...
    @property
    def is_learner(self) -> bool: ...

@final
class MemberStatus:
    @property
    def endpoint(self) -> str: ...
    @property
    def reachable(self) -> bool: ...
    @property
    def healthy(self) -> bool: ...
    @property
    def round_trip(self) -> float | None: ...
    @property
    def member_id(self) -> int: ...
    @property
    def leader_id(self) -> int: ...
    @property
    def raft_term(self) -> int: ...
    @property
    def raft_index(self) -> int: ...
    @property
    def version(self) -> str: ...
    @property
    def db_size(self) -> int: ...
    @property
    def alarms(self) -> list[str]: ...
    @property
    def error(self) -> str | None: ...

@final
class Registration:
    def close(self) -> None: ...
    @property
    def state(self) -> Literal["registered", "reregistering", "lost", "closed"]: ...
    @property
    def key(self) -> str: ...
    @property
    def lease_id(self) -> int: ...
    @property
    def ttl(self) -> float: ...
    def __enter__(self) -> Registration: ...
    def __exit__(
        self,
        *_exc: type[BaseException] | BaseException | TracebackType | None,
    ) -> bool: ...

@final
class Watch:
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def last_error(self) -> BaseException | None: ...
    def __enter__(self) -> Watch: ...
    def __exit__(
        self,
        *_exc: type[BaseException] | BaseException | TracebackType | None,
    ) -> bool: ...

@final
class ServiceFinder:
    def __init__(
        self,
        endpoints: str | Sequence[str] | None = None,
        *,
        prefix: str | None = None,
        timeout: float | None = None,
        serializable: bool | None = None,
        cache: bool | None = None,
        cache_limit: int | None = None,
        max_queued_changes: int | None = None,
        max_response_bytes: int | None = None,
        hedge_after: float | None = None,
        hedge_floor: float | None = None,
        connect_timeout: float | None = None,
        keepalive: tuple[float, float] | None = None,
        watch_check: tuple[float, float] | None = None,
        leader_check: float | None = None,
        watch_retry_delay: float | None = None,
        retry_backoff: tuple[float, float] | None = None,
        probe_backoff: tuple[float, float] | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        ca_pem: str | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        server_name: str | None = None,
        user: str | None = None,
        password: str | None = None,
        discovery_srv: str | None = None,
        name_server: str | None = None,
        auto_sync: float | None = None,
        metrics: bool | None = None,
        metrics_addr: str | None = None,
    ) -> None: ...
    def get_service(
        self, name: str, *, timeout: float | None = None, serializable: bool | None = None
    ) -> str | None: ...
    def get_service_bytes(
        self, name: str, *, timeout: float | None = None, serializable: bool | None = None
    ) -> bytes | None: ...
    def watch_service(
        self,
        name: str,
        callback: Callable[[Any], object],
        *,
        initial: bool = False,
        changes: bool = False,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> Watch: ...
    def instances(self, name: str, *, timeout: float | None = None, serializable: bool | None = None) -> Instances: ...
    def watch_instances(
        self,
        name: str,
        callback: Callable[[Instances], object],
        *,
        initial: bool = True,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> Watch: ...
    def register(
        self,
        name: str,
        addr: str,
        ttl: float | None = None,
        metadata: Any = None,
        *,
        instance_id: str | None = None,
        on_state: Callable[[str], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> Registration: ...
    def metrics(self) -> str: ...
    @property
    def metrics_addr(self) -> str | None: ...
    def members(self) -> list[Member]: ...
    def health(self) -> list[MemberStatus]: ...
    def close(self, *, timeout: float | None = None) -> bool: ...
    @property
    def closed(self) -> bool: ...
    @property
    def endpoints(self) -> list[str]: ...
    def __enter__(self) -> ServiceFinder: ...
    def __exit__(
        self,
        *_exc: type[BaseException] | BaseException | TracebackType | None,
    ) -> bool: ...
