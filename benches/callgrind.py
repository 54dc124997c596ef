#!/usr/bin/env python3
"""User-space instructions per HTTP request under callgrind: our server beside its peers.

usage (from the repository root, after `cargo build --release --example hello`):
  python3 benches/callgrind.py [--ours "CMD WITH {port}"] [--peers limit,hyper,may,actix,axum]
                               [--mode plaintext|pipelined|both] [--requests N]
                               [--conns C] [--rounds R] [--path P] [--cache-sim]

Each server runs under `valgrind --tool=callgrind --trace-children=no`, which counts
every instruction the process executes in user space, on all its threads (callgrind
runs them one at a time; the count does not depend on that). A small client in this
script sends exactly N requests and reads exactly N responses, then the server gets
SIGTERM and callgrind writes its total. Each server runs twice, with N and with 2N
requests, and the figure is (Ir(2N) - Ir(N)) / N: start-up, the connections' set-up
and the shutdown cancel out.

The client keeps exactly one batch in flight, going round its C connections in turn,
so the server sees the same sequence of events on every run and the counts repeat
(what still varies is work driven by the clock, such as a `Date` header made once a
second: a few instructions per request at most). Modes, as in
../shared/peers/compare.py:
  plaintext   one request per write, wait for its response (keep-alive)
  pipelined   16 requests per write, wait for the 16 responses

Peers are built as compare.py builds them, from $PEERS_DIR (default ../shared/peers)
into $PEERS_TARGET (default /tmp/tornado-peers-target): `limit` is raw mio with no
HTTP parsing (the floor), `hyper` is hyper 1.x on tokio's current-thread runtime,
`may` is may_minihttp with one worker (three threads: main, waiting in join, may's
timer thread and the worker's event loop), `actix` is actix-web 4 with one worker and
`axum` axum on tokio (as compare.py runs them); ours, `limit` and `hyper` run on one
thread. RUST_LOG is removed from the servers' environment, so no access log is
written. The defaults take about two minutes. Needs valgrind; without it the script
says so and exits 0.

The kernel's share is not counted: `limit` does little but syscalls, so its few
hundred instructions a request make the "x floor" ratios here far larger than the
CPU-time ratios of compare.py. Compare these figures with each other, before and
after a change.

`--cache-sim` adds callgrind's cache and branch simulation (the machine's own cache
sizes; slower) and a second table per request: L1 instruction-cache misses (`I1mr`),
L1 data-cache read misses (`D1mr`), and mispredicted conditional and indirect branches
(`Bcm`, `Bim`): what explains a server that executes fewer instructions yet takes
more time.
"""
import argparse
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_DIR = os.environ.get("PEERS_DIR", os.path.join(ROOT, "..", "shared", "peers"))
PEERS_TARGET = os.environ.get("PEERS_TARGET", "/tmp/tornado-peers-target")
RUST_PEERS = {"limit": "limit-mio", "hyper": "hyper-hello", "may": "may-hello",
              "actix": "actix-hello", "axum": "axum-hello"}
OURS = "target/release/examples/hello --port {port}"
MODES = {"plaintext": 1, "pipelined": 16}
# Under callgrind a server runs some 50 times slower; these bound every wait.
START_TIMEOUT = 120.0
IO_TIMEOUT = 60.0


def build_peer(name):
    crate = RUST_PEERS[name]
    exe = os.path.join(PEERS_TARGET, "release", crate)
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "--quiet", "--locked",
                        "--manifest-path", os.path.join(PEERS_DIR, crate, "Cargo.toml"),
                        "--target-dir", PEERS_TARGET], check=True)
    return exe + " {port}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    end = time.time() + START_TIMEOUT
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listened on port {port} after {START_TIMEOUT:.0f} s")


def wait_idle(pid, timeout=10.0):
    """Waits until every thread of `pid` sleeps in two samples in a row, so SIGTERM
    does not cut short the work that follows the last response."""
    end = time.time() + timeout
    calm = 0
    while time.time() < end and calm < 2:
        time.sleep(0.05)
        states = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            return
        calm = calm + 1 if all(s in "SDI" for s in states) else 0


def read_responses(sock, count, buf):
    """Reads `count` whole responses (Content-Length framed, status 200) from `sock`;
    returns the bytes read past them."""
    while count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].split(b"\r\n")
            if not head[0].startswith(b"HTTP/1.1 200 "):
                raise SystemExit(f"unexpected response: {head[0]!r}")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buf) >= end + 4 + length:
                buf = buf[end + 4 + length:]
                count -= 1
                continue
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the server closed a connection")
        buf += data
    return buf


def load(port, requests, depth, conns, path="/"):
    """Sends `requests` requests for `path`, `depth` per write, one write in flight at
    a time, round the `conns` connections; returns the open sockets."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    batch = request * depth
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    leftovers = [b""] * conns
    for i in range(requests // depth):
        c = i % conns
        socks[c].sendall(batch)
        leftovers[c] = read_responses(socks[c], depth, leftovers[c])
    if any(leftovers):
        raise SystemExit("a server sent more than it was asked for")
    return socks


EVENTS = ["Ir", "I1mr", "D1mr", "Bcm", "Bim"]


def instructions(cmd, requests, depth, conns, workdir, path="/", cache_sim=False):
    """Totals of one server process that answers `requests` requests: a dict of
    callgrind's events (only `Ir` without `cache_sim`)."""
    port = free_port()
    out = os.path.join(workdir, f"callgrind.out.{port}")
    argv = ["valgrind", "--tool=callgrind", "--trace-children=no", f"--callgrind-out-file={out}",
            "--log-file=" + os.path.join(workdir, f"valgrind.{port}.log")]
    if cache_sim:
        argv += ["--cache-sim=yes", "--branch-sim=yes"]
    argv += shlex.split(cmd.replace("{port}", str(port)))
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    socks = []
    try:
        wait_port(port, proc)
        socks = load(port, requests, depth, conns, path)
        wait_idle(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for s in socks:
            s.close()
    try:
        with open(out) as f:
            names = []
            for line in f:
                if line.startswith("events:"):
                    names = line.split()[1:]
                if line.startswith(("totals:", "summary:")):
                    return dict(zip(names, map(int, line.split()[1:])))
    except OSError:
        pass
    raise SystemExit(f"callgrind wrote no total for {cmd!r}; see {workdir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=OURS,
                    help="command that starts our server, run from the repository root; "
                         "{port} is replaced (default: %(default)s)")
    ap.add_argument("--peers", default="limit,hyper,may")
    ap.add_argument("--mode", default="both", choices=["plaintext", "pipelined", "both"])
    ap.add_argument("--requests", type=int, default=4800,
                    help="N, a multiple of 16 (default: %(default)s)")
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--path", default="/",
                    help="the path requested (the peers answer only /)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure each figure this many times and show the spread")
    ap.add_argument("--cache-sim", action="store_true",
                    help="also count cache misses and mispredicted branches per request")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("callgrind.py: valgrind is not installed (apt-get install valgrind); "
              "nothing measured")
        return
    if args.requests <= 0 or args.requests % 16:
        raise SystemExit("--requests must be a positive multiple of 16")

    servers = {}
    if args.ours:
        exe = shlex.split(args.ours)[0]
        if not os.path.exists(os.path.join(ROOT, exe)) and shutil.which(exe) is None:
            raise SystemExit(f"{exe} not found; run `cargo build --release --example hello`")
        servers["ours"] = args.ours
    for name in filter(None, args.peers.split(",")):
        if name not in RUST_PEERS:
            raise SystemExit(f"unknown peer {name}; choose from {', '.join(RUST_PEERS)}")
        servers[name] = build_peer(name)
    modes = list(MODES) if args.mode == "both" else [args.mode]
    n = args.requests

    figures = {}
    events = {}
    with tempfile.TemporaryDirectory(prefix="callgrind-") as workdir:
        for r in range(args.rounds):
            for mode in modes:
                for name, cmd in servers.items():
                    once, twice = (instructions(cmd, k * n, MODES[mode], args.conns, workdir,
                                                args.path, args.cache_sim) for k in (1, 2))
                    per = (twice["Ir"] - once["Ir"]) / n
                    figures.setdefault((name, mode), []).append(per)
                    for e in EVENTS[1:]:
                        if e in once:
                            events.setdefault((name, mode, e), []).append((twice[e] - once[e]) / n)
                    print(f"round {r + 1} {mode:9} {name:6} Ir({n})={once['Ir']:,} "
                          f"Ir({2 * n})={twice['Ir']:,} -> {per:,.0f} per request", file=sys.stderr)

    print(f"\nInstructions per request under callgrind ({n} extra requests, "
          f"{args.conns} connections, one write in flight, {args.rounds} round(s), medians)\n")
    print("| server | mode | instructions/request | × floor | spread |")
    print("|---|---|---:|---:|---:|")
    for mode in modes:
        floor = statistics.median(figures[("limit", mode)]) if ("limit", mode) in figures else None
        for name in servers:
            runs = figures[(name, mode)]
            per = statistics.median(runs)
            ratio = f"{per / floor:.2f}" if floor else "-"
            spread = f"{(max(runs) - min(runs)) / min(runs) * 100:.2f}%" if len(runs) > 1 else "-"
            print(f"| {name} | {mode} | {per:,.0f} | {ratio} | {spread} |")
    if events:
        print("\nPer request under callgrind's cache and branch simulation (medians)\n")
        print("| server | mode | " + " | ".join(EVENTS[1:]) + " |")
        print("|---|---|" + "---:|" * (len(EVENTS) - 1))
        for mode in modes:
            for name in servers:
                cells = [f"{statistics.median(events[(name, mode, e)]):,.1f}" for e in EVENTS[1:]]
                print(f"| {name} | {mode} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
