"""Watch a service with the richer API: change objects, an error callback, a context
manager, and a timeout per lookup. Members come from TURTLE_ENDPOINTS.

    TURTLE_ENDPOINTS=127.0.0.1:2379 python examples/python/watch.py cdd
"""

import sys
import time

import turtle_finder


def on_change(change: turtle_finder.Change) -> None:
    print(f"{change.service} {change.kind} at revision {change.revision}: {change.value!r}")


def on_error(error: BaseException) -> None:
    print(f"watch trouble (it keeps retrying): {error}", file=sys.stderr)


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "cdd"
    with turtle_finder.ServiceFinder() as finder:
        print("now:", finder.get_service(name, timeout=2.0))
        with finder.watch_service(name, on_change, initial=True, changes=True, on_error=on_error):
            time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 60.0)


if __name__ == "__main__":
    main()
