#!/usr/bin/env python3
"""Client CPU per HTTP request under callgrind: tornado's AsyncHttpClient beside reqwest.

usage (from the repository root, after
`cargo build --release --example hello --example client_load`):
  python3 benches/client_callgrind.py [--clients tornado,reqwest]
                                      [--mode sequential|concurrent|both]
                                      [--requests N] [--rounds R] [--keep DIR]

One server, the `hello` example on one thread, runs natively in its own process; the
client under test is examples/client_load.rs, run under
`valgrind --tool=callgrind --trace-children=no`, which counts every instruction the
client process executes in user space (the server's are not counted). Each client runs
twice, measuring N and then 2N requests after the same warm-up, and the figure is
(Ir(2N) - Ir(N)) / N: start-up, the warm-up, connecting and the exit cancel out.
client_load also counts the heap allocations (and the bytes asked for) on its thread
over the measured requests; those are shown per request, from the 2N run.

Modes, as in `cargo bench --bench httpclient`:
  sequential   one GET at a time on a keep-alive connection
  concurrent   rounds of 100 GETs at once, a task each, on up to 100 connections

Both clients run on the client process's one thread: tornado's on an IoLoop with
max_clients and max_idle_per_host 100, reqwest 0.13 (no default features) on a tokio
current-thread runtime. Sequential figures repeat to within a few instructions per
request. Concurrent ones depend a little on how the server's answers are spread over
the client's reads, which the clock decides, so they move by about 1 %: use --rounds
to see the spread. Under callgrind the client runs several times slower while the
server does not, so in the concurrent mode more answers are waiting at each read than
in the native bench. The defaults take about half a minute (--rounds 3: a minute and
a half). Needs valgrind; without it the script says so and exits 0. --keep DIR keeps
the callgrind.out files there (for `callgrind_annotate`).

The kernel's share is not counted; compare these figures with each other. Run natively,
client_load also prints the CPU time (user + system) per request, kernel included, and
`strace -f -c` on it counts the syscalls.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

# The port helpers of the server's callgrind script (it runs nothing on import).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind import free_port, wait_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "target/release/examples/hello")
CLIENT = os.path.join(ROOT, "target/release/examples/client_load")
CLIENTS = ("tornado", "reqwest")
MODES = ("sequential", "concurrent")
START_TIMEOUT = 30.0
RUN_TIMEOUT = 1200.0


def run_client(client, mode, requests, url, workdir, tag):
    """Runs client_load under callgrind; returns (instructions, the figures it printed)."""
    out = os.path.join(workdir, f"callgrind.out.{client}.{mode}.{tag}")
    argv = ["valgrind", "--tool=callgrind", "--trace-children=no",
            f"--callgrind-out-file={out}",
            "--log-file=" + os.path.join(workdir, f"valgrind.{client}.{mode}.{tag}.log"),
            CLIENT, "--client", client, "--url", url, "--mode", mode,
            "--requests", str(requests)]
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "http_proxy",
                                                            "HTTP_PROXY", "all_proxy")}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"client_load {client} {mode} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")
    figures = dict(re.findall(r"(\w+)=(\S+)", done.stdout))
    with open(out) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1]), figures
    raise SystemExit(f"callgrind wrote no total for {client} {mode}; see {workdir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--mode", default="both", choices=[*MODES, "both"])
    ap.add_argument("--requests", type=int, default=2000,
                    help="N, a multiple of 100 (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure each figure this many times and show the spread")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the callgrind.out files and valgrind logs in DIR")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("client_callgrind.py: valgrind is not installed (apt-get install valgrind); "
              "nothing measured")
        return
    if args.requests <= 0 or args.requests % 100:
        raise SystemExit("--requests must be a positive multiple of 100")
    for exe in (SERVER, CLIENT):
        if not os.path.exists(exe):
            raise SystemExit(f"{exe} not found; run "
                             "`cargo build --release --example hello --example client_load`")
    clients = [c for c in args.clients.split(",") if c]
    for c in clients:
        if c not in CLIENTS:
            raise SystemExit(f"unknown client {c}; choose from {', '.join(CLIENTS)}")
    modes = list(MODES) if args.mode == "both" else [args.mode]
    n = args.requests

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    server = subprocess.Popen([SERVER, "--port", str(port), "--address", "127.0.0.1"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    instructions, allocs = {}, {}
    workdir = args.keep or tempfile.mkdtemp(prefix="client-callgrind-")
    os.makedirs(workdir, exist_ok=True)
    try:
        wait_port(port, server)
        for r in range(args.rounds):
            for mode in modes:
                for client in clients:
                    once, _ = run_client(client, mode, n, url, workdir, f"{r}.1")
                    twice, figures = run_client(client, mode, 2 * n, url, workdir, f"{r}.2")
                    per = (twice - once) / n
                    instructions.setdefault((client, mode), []).append(per)
                    allocs[(client, mode)] = figures
                    print(f"round {r + 1} {mode:10} {client:8} Ir({n})={once:,} "
                          f"Ir({2 * n})={twice:,} -> {per:,.0f} per request, "
                          f"{figures.get('allocations_per_request')} allocations/request",
                          file=sys.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nClient instructions per request under callgrind ({n} extra requests, "
          f"{args.rounds} round(s), medians), and heap allocations per request\n")
    print("| client | mode | instructions/request | × reqwest | spread "
          "| allocations/request | bytes allocated/request |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode in modes:
        base = instructions.get(("reqwest", mode))
        base = statistics.median(base) if base else None
        for client in clients:
            runs = instructions[(client, mode)]
            per = statistics.median(runs)
            ratio = f"{per / base:.2f}" if base else "-"
            spread = (f"{(max(runs) - min(runs)) / min(runs) * 100:.2f}%"
                      if len(runs) > 1 else "-")
            f = allocs[(client, mode)]
            print(f"| {client} | {mode} | {per:,.0f} | {ratio} | {spread} "
                  f"| {f.get('allocations_per_request')} | {f.get('alloc_bytes_per_request')} |")


if __name__ == "__main__":
    main()
