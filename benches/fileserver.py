#!/usr/bin/env python3
"""Static files on loopback: our `fileserver` example against nginx, per file size.

A temporary directory gets a 1 KiB and a 1 MiB file; our server
(target/release/examples/fileserver) and nginx (one worker, sendfile on, access_log
off, keep-alive without limit) serve it in turn, pinned to CPU 0, while wrk, pinned to
CPU 1, fetches one file over keep-alive connections. Rounds alternate the servers, and
each measurement starts its server afresh after a warm-up. For each file and server it
prints requests per second, p99 latency, the server's CPU time per request (user +
sys, from /proc) and the bytes per second received. `nginx-ofc` is nginx with
`open_file_cache` (descriptors and their stat kept, checked once a minute), for
reference: our server keeps small files in memory but checks them with one stat per
request; plain nginx opens, stats and closes the file for every request.

usage:
  python3 benches/fileserver.py [--rounds 3] [--seconds 4] [--connections 100]
                                [--sizes 1024,1048576] [--servers ours,nginx[,nginx-ofc]]

Build first: cargo build --release --example fileserver. Needs wrk, taskset and nginx
(`apt-get install -y wrk nginx-light`).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
OURS = os.path.join(HERE, "..", "target", "release", "examples", "fileserver")
HZ = os.sysconf("SC_CLK_TCK")

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 10000000;
    default_type application/octet-stream;
    {extra}
    client_body_temp_path {tmp};
    proxy_temp_path {tmp};
    fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp};
    scgi_temp_path {tmp};
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listened on port {port}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


class Server:
    """One server on CPU 0; `pid` is the process doing the work."""

    def __init__(self, name, root, tmp):
        self.port = free_port()
        if name == "ours":
            argv = [OURS, "--root", root, "--port", str(self.port), "--no-listing"]
        else:
            conf = os.path.join(tmp, f"nginx-{self.port}.conf")
            # nginx-ofc: nginx keeping open descriptors and their stat (checked every
            # 60 s by default), closer to what our server keeps than plain nginx.
            extra = "open_file_cache max=1000;" if name == "nginx-ofc" else ""
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=tmp, port=self.port, root=root, extra=extra))
            argv = ["nginx", "-c", conf, "-p", tmp]
        self.proc = subprocess.Popen(["taskset", "-c", "0"] + argv,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        self.pid = self.proc.pid
        if name.startswith("nginx"):
            # The worker does the work; the master only waits.
            out = subprocess.run(["ps", "--ppid", str(self.pid), "-o", "pid="],
                                 capture_output=True, text=True).stdout.split()
            self.pid = int(out[0])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wrk(port, path, seconds, conns):
    argv = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
            f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)] if p99 else float("nan")
    return reqs, p99_ms, int(errors.group(1)) if errors else 0


def check(port, path, data):
    """The server answers the file whole and right before it is measured."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        body = r.read()
        if r.status != 200 or body != data:
            raise SystemExit(f"port {port} {path}: status {r.status}, {len(body)} bytes")


def human(n):
    return f"{n // 1048576} MiB" if n >= 1048576 else f"{n // 1024} KiB" if n >= 1024 else f"{n} B"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--sizes", default="1024,1048576")
    ap.add_argument("--servers", default="ours,nginx")
    args = ap.parse_args()
    servers = args.servers.split(",")
    for tool in ["wrk", "taskset"] + (["nginx"] if any(s.startswith("nginx") for s in servers) else []):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (apt-get install -y wrk nginx-light)")
    if "ours" in servers and not os.path.exists(OURS):
        raise SystemExit("build first: cargo build --release --example fileserver")

    tmp = tempfile.mkdtemp(prefix="fileserver-bench-")
    # nginx's worker runs as nobody when started as root: it must be able to read.
    os.chmod(tmp, 0o755)
    root = os.path.join(tmp, "www")
    os.mkdir(root, 0o755)
    files = {}
    for size in map(int, args.sizes.split(",")):
        name = f"/file-{size}.bin"
        data = os.urandom(size)
        with open(root + name, "wb") as f:
            f.write(data)
        files[name] = (size, data)
    # Our server keeps what it reads of a file only once the file has been left alone
    # for two seconds (its times could hide a second write before that).
    time.sleep(2.5)

    results = {(name, s): [] for name in files for s in servers}
    try:
        for _ in range(args.rounds):
            for name, (size, data) in files.items():
                for s in servers:
                    srv = Server(s, root, tmp)
                    try:
                        check(srv.port, name, data)
                        wrk(srv.port, name, 1, args.connections)  # warm-up
                        c0 = cpu_seconds(srv.pid)
                        reqs, p99, bad = wrk(srv.port, name, args.seconds, args.connections)
                        c1 = cpu_seconds(srv.pid)
                    finally:
                        srv.stop()
                    results[(name, s)].append(
                        (reqs / args.seconds, p99, (c1 - c0) * 1e6 / max(reqs, 1), bad))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.connections} connections, wrk on CPU 1, servers on CPU 0, "
          f"{args.rounds} rounds x {args.seconds}s, medians")
    for name, (size, _) in files.items():
        print(f"\n## {human(size)} ({name})")
        print(f"{'server':10} {'req/s':>10} {'p99 ms':>8} {'cpu us/req':>11} {'MB/s':>9} {'non-2xx':>8}")
        med = {}
        for s in servers:
            rows = results[(name, s)]
            rps = statistics.median(r[0] for r in rows)
            p99 = statistics.median(r[1] for r in rows)
            cpu = statistics.median(r[2] for r in rows)
            bad = sum(r[3] for r in rows)
            med[s] = (rps, cpu)
            print(f"{s:10} {rps:10.0f} {p99:8.2f} {cpu:11.2f} {rps * size / 1e6:9.1f} {bad:8d}")
        if "ours" in med and "nginx" in med:
            (rps, cpu), (nrps, ncpu) = med["ours"], med["nginx"]
            print(f"ours vs nginx: throughput x{rps / nrps:.2f}, cpu per request x{cpu / ncpu:.2f}")


if __name__ == "__main__":
    sys.exit(main())
