"""`python -m bot ...` with tracemalloc on: the app under `bench_soak.py --trace-memory`.

Run as `python -m bench._traced_app serve`. A snapshot of every live Python allocation is
written when the soak asks for one: for each file `<name>.request` that appears in the
directory `SOAK_TRACE_DIR`, the file `<name>.tm` (`tracemalloc.Snapshot.load`) replaces it.
A file rather than a signal, so the app's own signal handling (SIGTERM) stays as it is.

Tracing roughly doubles the app's memory and taking a snapshot leaves its heap larger, so the
RSS of a traced run is not comparable with an untraced one: the soak prints the growth sites
instead.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = 12  # deep enough to see which of the app's own functions holds on to an allocation


def answer_requests(directory: Path) -> None:
    while True:
        for request in sorted(directory.glob("*.request")):
            partial = request.with_suffix(".partial")
            tracemalloc.take_snapshot().dump(str(partial))
            partial.replace(request.with_suffix(".tm"))
            request.unlink()
        time.sleep(0.2)


def main() -> None:
    directory = Path(os.environ["SOAK_TRACE_DIR"])
    tracemalloc.start(FRAMES)
    threading.Thread(target=answer_requests, args=(directory,), daemon=True).start()
    sys.argv = ["bot", *sys.argv[1:]]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
