#!/usr/bin/env python3
"""Autobahn|Testsuite's fuzzingclient against the websocket_echo example.

    python3 tests/autobahn/run.py [--cases 1.*,2.*] [--keep-reports DIR]

Builds `websocket_echo` in release mode, starts it on a free port on 127.0.0.1, runs
every case of sections 1-13 but 9.* (performance), and fails unless each case's
behaviour and close behaviour are OK, NON-STRICT or INFORMATIONAL. Prints a table per
section.

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


def wait_listening(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("websocket_echo exited early with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("websocket_echo did not listen on port %d" % port)


def case_key(case):
    return tuple(int(p) for p in case.split("."))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="*", help="comma-separated case patterns (default all)")
    ap.add_argument("--keep-reports", help="write the HTML reports to this directory")
    args = ap.parse_args()

    python = find_python27()
    if not python:
        print("SKIP: Autobahn|Testsuite needs Python 2.7, which was not found "
              "(install it with `pyenv install 2.7.18`)")
        return 0
    wstest = ensure_wstest(python)

    subprocess.check_call(
        ["cargo", "build", "--release", "--quiet", "--example", "websocket_echo"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    server_bin = os.path.join(target, "release", "examples", "websocket_echo")

    work = tempfile.mkdtemp(prefix="autobahn-")
    reports = args.keep_reports or os.path.join(work, "reports")
    port = free_port()
    spec = {
        "outdir": reports,
        "servers": [{"agent": "tornado-rs", "url": "ws://127.0.0.1:%d" % port}],
        "cases": args.cases.split(","),
        "exclude-cases": ["9.*"],
        "exclude-agent-cases": {},
    }
    spec_path = os.path.join(work, "fuzzingclient.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)

    server = subprocess.Popen([server_bin, "--port", str(port)],
                              env=dict(os.environ, RUST_LOG="error"))
    try:
        wait_listening(port, server)
        log_path = os.path.join(work, "wstest.log")
        with open(log_path, "w") as log:
            rc = subprocess.call([wstest, "-m", "fuzzingclient", "-s", spec_path],
                                 cwd=work, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            print(open(log_path).read()[-4000:])
            raise SystemExit("wstest failed with exit status %d" % rc)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()

    with open(os.path.join(reports, "index.json")) as f:
        results = json.load(f)["tornado-rs"]

    by_section = defaultdict(Counter)
    failures = []
    for case in sorted(results, key=case_key):
        r = results[case]
        behavior, close = r["behavior"], r["behaviorClose"]
        verdict = behavior if behavior not in PASSING or close in PASSING else "CLOSE-" + close
        by_section[case.split(".")[0]][verdict] += 1
        if verdict not in PASSING:
            failures.append((case, behavior, close))

    print("\nAutobahn|Testsuite fuzzingclient, %d cases (9.* excluded)" % len(results))
    print("%-8s %6s %11s %14s %7s" % ("section", "OK", "NON-STRICT", "INFORMATIONAL", "other"))
    for section in sorted(by_section, key=int):
        c = by_section[section]
        other = sum(v for k, v in c.items() if k not in PASSING)
        print("%-8s %6d %11d %14d %7d" % (section, c["OK"], c["NON-STRICT"], c["INFORMATIONAL"], other))
    if failures:
        print("\nFAILED cases (behavior, close behavior):")
        for case, behavior, close in failures:
            print("  %-10s %-14s %s" % (case, behavior, close))
        if args.keep_reports:
            print("reports in", reports)
        return 1
    print("\nall cases OK, NON-STRICT or INFORMATIONAL")
    if not args.keep_reports:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
