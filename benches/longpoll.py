#!/usr/bin/env python3
"""Long-polling fan-out: N clients wait, one message is posted, and the time until every
waiter has its response is measured, with the server's memory per waiting client.
Our `chat` example (run with `--no-xsrf`, as Tornado's app here runs with
`xsrf_cookies=False`) beside Python Tornado's chat demo (benches/longpoll_tornado.py) and
the floor, examples/longpoll_floor.rs: a raw mio server that does only what the load
needs, one `write` per waiter of a response built once, so its figures are about what
the kernel alone costs on this machine.

usage (from the repository root):
  python3 benches/longpoll.py [--clients 10000] [--rounds 3]
                              [--servers ours,tornado,floor]
                              [--ours "CMD WITH {port}"] [--timeout 120]

Builds `longpoll_load`, `longpoll_floor` and `chat` in release (`cargo build --release
--example longpoll_load --example longpoll_floor --example chat`), each only when a
chosen server needs it; without examples/chat.rs (or examples/chat/) ours is skipped
with a message, unless --ours names another command. Python Tornado runs on this
interpreter (`pip install tornado`; skipped with a message when it is missing).

Each round starts each server afresh on a free port on 127.0.0.1, so every run begins
from the same memory, then runs examples/longpoll_load.rs against it: a primer message
gives the cursor; the RSS is read; N connections each send `POST /a/message/updates`
with the cursor, opened a window at a time so the accept queue never overflows; once the
server has read every request and its CPU time stands still, the RSS is read again; then
one `POST /a/message/new` goes out, and the clock runs until the last waiter has a
whole response holding the posted text. With `taskset` and two cores, the server runs
on CPU 0 and the load generator on CPU 1. The figures are medians over the rounds:

  fan-out ms        from sending the message until every waiter has its response
  first/median ms   until the first waiter's and the median waiter's response
  bytes per waiter  (RSS with N waiting - RSS before) / N
  server CPU ms     the server's CPU time over the fan-out, all its threads (from
                    /proc/PID/task/*/schedstat)
  load CPU ms       the load generator's own CPU time over the fan-out (near the
                    fan-out time, the load generator and not the server set the pace)

With the floor measured too, ours' fan-out time and server CPU time are also given as
multiples of the floor's.

Every server and the load generator hold one file descriptor per connection: the soft
`ulimit -n` is raised to the hard limit here, for all of them, and the run stops when
that is too low for N. The load generator's `--pid` is the server process started
here, so an --ours command must exec the server itself (not a shell that forks it).
"""
import argparse
import json
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind import free_port, wait_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOAD = os.path.join(ROOT, "target", "release", "examples", "longpoll_load")
OURS = "target/release/examples/chat --port {port} --no-xsrf"
FLOOR = "target/release/examples/longpoll_floor --port {port}"
SERVERS = ("ours", "tornado", "floor")
TORNADO_APP = os.path.join(ROOT, "benches", "longpoll_tornado.py")
# File descriptors beyond one per waiter: the poster, the listener, stdio, the poll.
FD_MARGIN = 64
# The goals of the issue: at least this many times Tornado's fan-out speed, and at most
# this fraction of its memory per waiter.
GOAL_SPEED = 20
GOAL_MEMORY = 5


def raise_fd_limit(clients):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < clients + FD_MARGIN:
        raise SystemExit(f"the file descriptor limit ({hard}) is too low for {clients} "
                         f"clients: raise the hard limit (ulimit -Hn) to {clients + FD_MARGIN}")


def pinning():
    """taskset prefixes for the server and the load generator, or none."""
    if shutil.which("taskset") and len(os.sched_getaffinity(0)) >= 2:
        first, second = sorted(os.sched_getaffinity(0))[:2]
        return ["taskset", "-c", str(first)], ["taskset", "-c", str(second)]
    print("note: no taskset or fewer than two cores: server and load generator not pinned",
          file=sys.stderr)
    return [], []


def chat_example_exists():
    return (os.path.exists(os.path.join(ROOT, "examples", "chat.rs"))
            or os.path.exists(os.path.join(ROOT, "examples", "chat", "main.rs")))


def choose_servers(args):
    """{name: argv template with {port}}, after building what is ours to build."""
    wanted = [s for s in args.servers.split(",") if s]
    unknown = set(wanted) - set(SERVERS)
    if unknown:
        raise SystemExit(f"unknown server(s): {', '.join(sorted(unknown))}")
    examples = ["longpoll_load"]
    servers = {}
    if "ours" in wanted:
        if args.ours:
            servers["ours"] = args.ours
        elif chat_example_exists():
            examples.append("chat")
            servers["ours"] = OURS
        else:
            print("skipping ours: there is no `chat` example yet (examples/chat.rs); "
                  "pass --ours \"CMD WITH {port}\" to measure another server",
                  file=sys.stderr)
    if "tornado" in wanted:
        try:
            import tornado  # noqa: F401
            servers["tornado"] = f"{shlex.quote(sys.executable)} {TORNADO_APP} --port {{port}}"
        except ImportError:
            print(f"skipping tornado: `import tornado` fails on {sys.executable} "
                  "(pip install tornado)", file=sys.stderr)
    if "floor" in wanted:
        examples.append("longpoll_floor")
        servers["floor"] = FLOOR
    argv = ["cargo", "build", "--release", "--quiet"]
    for name in examples:
        argv += ["--example", name]
    subprocess.run(argv, cwd=ROOT, check=True)
    return servers


class Server:
    def __init__(self, template, pin):
        self.port = free_port()
        argv = shlex.split(template.replace("{port}", str(self.port)))
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        # A file, not a pipe: a server that logs a line per connection must not block
        # on a full pipe.
        self.stderr = tempfile.TemporaryFile()
        # taskset execs the server, so the pid is the server's.
        self.proc = subprocess.Popen(pin + argv, cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        try:
            wait_port(self.port, self.proc)
        except SystemExit:
            self.proc.kill()
            self.proc.wait()
            self.stderr.seek(0)
            raise SystemExit(f"{argv[0]} did not start:\n{self.stderr.read().decode()}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def run_round(template, args, server_pin, load_pin):
    server = Server(template, server_pin)
    try:
        argv = load_pin + [LOAD, "--port", str(server.port), "--pid", str(server.proc.pid),
                           "--clients", str(args.clients), "--timeout", str(args.timeout)]
        # Opening, settling and the fan-out each have --timeout.
        limit = 3 * args.timeout + 60
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"longpoll_load did not finish in {limit} s")
    finally:
        server.stop()
    lines = done.stdout.strip().splitlines()
    if done.returncode not in (0, 1) or not lines:
        raise SystemExit(f"longpoll_load failed ({done.returncode}):\n{done.stderr}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    return json.loads(lines[-1])


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10000, help="waiting clients (10000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per server (3)")
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help=f"any of {','.join(SERVERS)} (all)")
    ap.add_argument("--ours", help=f"command that starts our server, {{port}} replaced "
                                   f"(default: {OURS})")
    ap.add_argument("--timeout", type=int, default=120,
                    help="seconds for each phase of a round (120)")
    args = ap.parse_args()
    raise_fd_limit(args.clients)
    servers = choose_servers(args)
    if not servers:
        raise SystemExit("no server to measure")
    server_pin, load_pin = pinning()

    results = {name: [] for name in servers}
    for r in range(args.rounds):
        for name, template in servers.items():
            row = run_round(template, args, server_pin, load_pin)
            results[name].append(row)
            per = row.get("bytes_per_waiter")
            print(f"round {r + 1} {name:8} waiting={row['waiting']} "
                  f"fanout={fmt(row['fanout_ms'])} ms first={fmt(row['first_ms'])} ms "
                  f"server_cpu={fmt(row.get('server_cpu_ms'))} ms "
                  f"bytes/waiter={fmt(per, 0)} errors={row['errors']} {row['error_kinds']} "
                  f"connect={row['connect_s']:.1f} s", file=sys.stderr)

    print(f"\nLong-poll fan-out: {args.clients:,} waiters, one message, "
          f"{args.rounds} round(s), medians\n")
    print("| server | waiters | fan-out ms | first ms | median ms | bytes per waiter "
          "| server CPU ms | load CPU ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    med = {}
    for name, rows in results.items():
        med[name] = {k: median(rows, k) for k in
                     ("waiting", "fanout_ms", "first_ms", "median_ms", "bytes_per_waiter",
                      "server_cpu_ms", "load_cpu_ms")}
        m = med[name]
        errors = sum(r["errors"] for r in rows)
        print(f"| {name} | {fmt(m['waiting'], 0)} | {fmt(m['fanout_ms'])} "
              f"| {fmt(m['first_ms'])} | {fmt(m['median_ms'])} "
              f"| {fmt(m['bytes_per_waiter'], 0)} | {fmt(m['server_cpu_ms'])} "
              f"| {fmt(m['load_cpu_ms'])} | {errors} |")
    if "ours" in med and "tornado" in med:
        ours, theirs = med["ours"], med["tornado"]
        print()
        if ours["fanout_ms"] and theirs["fanout_ms"]:
            speed = theirs["fanout_ms"] / ours["fanout_ms"]
            verdict = "met" if speed >= GOAL_SPEED else "not met"
            print(f"fan-out: Tornado/ours = {speed:.1f}x (goal >= {GOAL_SPEED}x: {verdict})")
        if ours["bytes_per_waiter"] and theirs["bytes_per_waiter"]:
            memory = theirs["bytes_per_waiter"] / ours["bytes_per_waiter"]
            verdict = "met" if memory >= GOAL_MEMORY else "not met"
            print(f"memory per waiter: Tornado/ours = {memory:.1f}x "
                  f"(goal >= {GOAL_MEMORY}x: {verdict})")
    if "ours" in med and "floor" in med:
        ours, floor = med["ours"], med["floor"]
        print()
        if ours["fanout_ms"] and floor["fanout_ms"]:
            print(f"fan-out: ours/floor = {ours['fanout_ms'] / floor['fanout_ms']:.2f}x "
                  f"(ours takes that many times the raw mio floor's time)")
        if ours["server_cpu_ms"] and floor["server_cpu_ms"]:
            print(f"server CPU over the fan-out: ours/floor = "
                  f"{ours['server_cpu_ms'] / floor['server_cpu_ms']:.2f}x")
    if any(r["errors"] for rows in results.values() for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
