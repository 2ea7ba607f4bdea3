"""A stand-in worker for supervisor tests: speaks the heartbeat protocol, no Django.

Its behaviour comes from STUB_MODE: ``ok`` beats forever; ``boot_error`` reports
a boot failure; ``crash`` exits 1 after its first ready beat; ``silent`` goes
quiet after its first ready beat; ``busy`` counts 100 requests per beat.
"""

import os
import signal
import sys
import time

from supervisor import child, protocol
from supervisor.protocol import CheckResult, Heartbeat, WorkerState

PASSING = {tag: CheckResult(ok=True) for tag in ("startup", "liveness", "readiness")}


def main() -> int:
    spec = child.start(sys.argv[1:])
    parent = child.ParentPipe(spec.pipe)
    mode = os.environ.get("STUB_MODE", "ok")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if mode == "boot_error":
        parent.send(protocol.BootError("ImportError: stub"))
        return protocol.EXIT_BOOT_ERROR
    requests = 0
    while True:
        beat = Heartbeat(os.getpid(), spec.index, WorkerState.READY, requests_total=requests, checks=PASSING)
        parent.send(beat)
        if mode == "crash":
            return 1
        if mode == "silent":
            signal.pause()
        if mode == "busy":
            requests += 100
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
