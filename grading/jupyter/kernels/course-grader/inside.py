"""The first code the grading sandbox runs (grading/sandbox.py), before the submission's.

    python inside.py '{"ready": FD, "go": FD, "files": FD, "limits": {...}}' CONNECTION_FILE

Sets the per-process limits for good (soft and hard: no way back up), the process limit inside
the sandbox's own user namespace, unpacks the copy of the submission's folder into the working
folder, then starts ipykernel in this process: once its five sockets exist it tells the launcher
(which takes their folder back) and waits for its answer before running any cell.
"""

import contextlib
import json
import os
import resource
import signal
import sys
import tarfile
import time

SCRATCH = "/sandbox"  # the size-capped tmpfs (grading/sandbox.py)


def main() -> None:
    args, connection_file = json.loads(sys.argv[1]), sys.argv[2]
    limits = args["limits"]
    for which, key in (
        (resource.RLIMIT_AS, "as"),
        (resource.RLIMIT_CPU, "cpu"),
        (resource.RLIMIT_FSIZE, "fsize"),
        (resource.RLIMIT_NPROC, "nproc"),
    ):
        resource.setrlimit(which, (limits[key], limits[key]))
    os.umask(0o077)
    for name in ("work", "home", "tmp"):
        os.makedirs(os.path.join(SCRATCH, name), exist_ok=True)
    os.chdir(os.path.join(SCRATCH, "work"))
    with os.fdopen(args["files"], "rb") as f, tarfile.open(fileobj=f, mode="r|") as tar:
        tar.extractall(".", filter="data")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # interrupts arrive as SIGINT
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # as ipykernel_launcher: the kernel adds the working folder itself

    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file, "--IPKernelApp.parent_handle=1"])  # its parent: bwrap
    with open(connection_file) as conn:
        info = json.load(conn)
    ports = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
    sockets = [f"{info['ip']}-{info[k]}" for k in ports]
    deadline = time.monotonic() + 60
    while not all(os.path.exists(s) for s in sockets) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.write(args["ready"], b"!")
    os.read(args["go"], 1)
    os.close(args["ready"])
    os.close(args["go"])
    app.start()
    # Shut down (its reply sent): nothing of the kernel is kept, so the interpreter's teardown,
    # which takes torch and matplotlib most of a second, is skipped.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
