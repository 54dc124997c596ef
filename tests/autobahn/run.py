#!/usr/bin/env python3
"""Autobahn|Testsuite against the WebSocket server and client.

    python3 tests/autobahn/run.py [--side server|client|both] [--cases 1.*,2.*]
                                  [--keep-reports DIR]

Server side: builds the `websocket_echo` example in release mode, starts it on a free
port on 127.0.0.1 and runs `wstest -m fuzzingclient` against it. Client side: starts
`wstest -m fuzzingserver` on a free port and runs the `websocket_autobahn_client`
example against it (it offers permessage-deflate, so 12.* and 13.* run too). Both
sides by default.

Every case of sections 1-13 but 9.* (performance) runs, and the run fails unless each
case's behaviour and close behaviour are OK, NON-STRICT or INFORMATIONAL. Prints a
table per section for each side.

Autobahn|Testsuite runs under Python 2.7 only: it is looked for in pyenv
(`$(pyenv root)/versions/2.7.*`) or as `python2.7` on PATH, and `autobahntestsuite` is
pip-installed into it when missing. Without Python 2.7 the run is skipped (exit 0)
with a message saying so.
"""

import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}
AGENT = "tornado-rs"
# The longest the client may take over all its cases.
CLIENT_TIMEOUT = 30 * 60


def find_python27():
    roots = []
    try:
        roots.append(subprocess.check_output(["pyenv", "root"], text=True).strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in roots:
        for p in sorted(glob.glob(os.path.join(root, "versions", "2.7*", "bin", "python"))):
            return p
    return shutil.which("python2.7")


def ensure_wstest(python):
    wstest = os.path.join(os.path.dirname(python), "wstest")
    probe = subprocess.run([python, "-c", "import autobahntestsuite"], capture_output=True)
    if probe.returncode != 0 or not os.path.exists(wstest):
        print("installing autobahntestsuite into", python, flush=True)
        subprocess.check_call([python, "-m", "pip", "install", "-q", "autobahntestsuite"])
    return wstest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, name, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("%s exited early with %s" % (name, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("%s did not listen on port %d" % (name, port))


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def case_key(case):
    return tuple(int(p) for p in case.split("."))


def write_spec(work, name, spec):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def fail_with_log(log_path, message):
    with open(log_path) as f:
        print(f.read()[-4000:])
    raise SystemExit(message)


def server_side(wstest, example_dir, work, cases):
    """wstest's fuzzingclient against the websocket_echo example."""
    reports = os.path.join(work, "server-reports")
    port = free_port()
    spec_path = write_spec(work, "fuzzingclient.json", {
        "outdir": reports,
        "servers": [{"agent": AGENT, "url": "ws://127.0.0.1:%d" % port}],
        "cases": cases,
        "exclude-cases": ["9.*"],
        "exclude-agent-cases": {},
    })
    server = subprocess.Popen([os.path.join(example_dir, "websocket_echo"), "--port", str(port)],
                              env=dict(os.environ, RUST_LOG="error"))
    try:
        wait_listening(port, server, "websocket_echo")
        log_path = os.path.join(work, "wstest-fuzzingclient.log")
        with open(log_path, "w") as log:
            rc = subprocess.call([wstest, "-m", "fuzzingclient", "-s", spec_path],
                                 cwd=work, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            fail_with_log(log_path, "wstest fuzzingclient failed with exit status %d" % rc)
    finally:
        stop(server)
    return reports


def client_side(wstest, example_dir, work, cases):
    """The websocket_autobahn_client example against wstest's fuzzingserver."""
    reports = os.path.join(work, "client-reports")
    port = free_port()
    url = "ws://127.0.0.1:%d" % port
    spec_path = write_spec(work, "fuzzingserver.json", {
        "url": url,
        "outdir": reports,
        "cases": cases,
        "exclude-cases": ["9.*"],
        "exclude-agent-cases": {},
    })
    log_path = os.path.join(work, "wstest-fuzzingserver.log")
    with open(log_path, "w") as log:
        fuzzingserver = subprocess.Popen([wstest, "-m", "fuzzingserver", "-s", spec_path],
                                         cwd=work, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_listening(port, fuzzingserver, "wstest fuzzingserver")
            client = [os.path.join(example_dir, "websocket_autobahn_client"),
                      "--url", url, "--agent", AGENT]
            try:
                rc = subprocess.call(client, env=dict(os.environ, RUST_LOG="error"),
                                     timeout=CLIENT_TIMEOUT)
            except subprocess.TimeoutExpired:
                rc = "a timeout after %d s" % CLIENT_TIMEOUT
            if rc != 0:
                fail_with_log(log_path, "websocket_autobahn_client failed with %s" % rc)
        finally:
            stop(fuzzingserver)
    return reports


def summarize(title, reports):
    """Prints the table of one side; returns its failing cases."""
    with open(os.path.join(reports, "index.json")) as f:
        results = json.load(f)[AGENT]

    by_section = defaultdict(Counter)
    failures = []
    for case in sorted(results, key=case_key):
        r = results[case]
        behavior, close = r["behavior"], r["behaviorClose"]
        verdict = behavior if behavior not in PASSING or close in PASSING else "CLOSE-" + close
        by_section[case.split(".")[0]][verdict] += 1
        if verdict not in PASSING:
            failures.append((case, behavior, close))

    print("\nAutobahn|Testsuite %s, %d cases (9.* excluded)" % (title, len(results)))
    print("%-8s %6s %11s %14s %7s" % ("section", "OK", "NON-STRICT", "INFORMATIONAL", "other"))
    for section in sorted(by_section, key=int):
        c = by_section[section]
        other = sum(v for k, v in c.items() if k not in PASSING)
        print("%-8s %6d %11d %14d %7d" % (section, c["OK"], c["NON-STRICT"], c["INFORMATIONAL"], other))
    if failures:
        print("\nFAILED cases (behavior, close behavior):")
        for case, behavior, close in failures:
            print("  %-10s %-14s %s" % (case, behavior, close))
        print("reports in", reports)
    else:
        print("all cases OK, NON-STRICT or INFORMATIONAL")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", choices=["server", "client", "both"], default="both",
                    help="test the server (fuzzingclient), the client (fuzzingserver) or both")
    ap.add_argument("--cases", default="*", help="comma-separated case patterns (default all)")
    ap.add_argument("--keep-reports", help="write the reports under this directory")
    args = ap.parse_args()

    python = find_python27()
    if not python:
        print("SKIP: Autobahn|Testsuite needs Python 2.7, which was not found "
              "(install it with `pyenv install 2.7.18`)")
        return 0
    wstest = ensure_wstest(python)

    sides = ["server", "client"] if args.side == "both" else [args.side]
    examples = {"server": "websocket_echo", "client": "websocket_autobahn_client"}
    build = ["cargo", "build", "--release", "--quiet"]
    for side in sides:
        build += ["--example", examples[side]]
    subprocess.check_call(build, cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    example_dir = os.path.join(target, "release", "examples")

    if args.keep_reports:
        os.makedirs(args.keep_reports, exist_ok=True)
        work = os.path.abspath(args.keep_reports)
    else:
        work = tempfile.mkdtemp(prefix="autobahn-")
    cases = args.cases.split(",")
    failed = False
    for side in sides:
        if side == "server":
            reports = server_side(wstest, example_dir, work, cases)
            title = "fuzzingclient against the server (websocket_echo)"
        else:
            reports = client_side(wstest, example_dir, work, cases)
            title = "fuzzingserver against the client (websocket_autobahn_client)"
        failed |= bool(summarize(title, reports))
    if failed:
        return 1
    if not args.keep_reports:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
