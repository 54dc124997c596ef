#!/usr/bin/env python3
"""User-space instructions per WebSocket echo under callgrind: ours beside
tokio-tungstenite and fastwebsockets.

usage (from the repository root; needs valgrind):
  python3 benches/websocket_callgrind.py [--servers ours,tungstenite,fastwebsockets]
                                         [--mode small|large|both] [--messages N]
                                         [--conns C] [--depth D] [--rounds R]
                                         [--tool callgrind|strace] [--exe PATH]

The servers are the ones `cargo bench --bench websocket` measures, run alone by the
bench's executable (`--serve NAME --port P`; built here with `cargo bench --no-run`
unless --exe names it) under `valgrind --tool=callgrind`, which counts every
instruction the process executes in user space, on every thread. A client in this
script opens C WebSockets (no extensions, so no compression), then sends exactly N
masked messages, D at a time in one write (default 1), going round the connections
in turn, and reads the D echoes before sending more; then the server gets SIGTERM
and callgrind writes its total. Each server runs with N and with 2N messages, and
the figure is (Ir(2N) - Ir(N)) / N: start-up, handshakes and shutdown cancel out.

`--tool strace` runs the servers under `strace -f -c` instead and gives system calls
per message the same way (what batching saves is mostly in the kernel, which
callgrind does not see).

Modes: `small` is a 32-byte text message (as the bench's echo), `large` a 16 KiB
binary one (as its throughput; there the bench keeps 16 in flight, here one, so
this counts the work per message, not batching).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# The helpers of the HTTP server's callgrind script (it runs nothing on import).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind import free_port, wait_idle  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = ["ours", "tungstenite", "fastwebsockets"]
MODES = {"small": (True, 32), "large": (False, 16 * 1024)}
START_TIMEOUT = 120.0
IO_TIMEOUT = 60.0
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def bench_exe():
    out = subprocess.run(
        ["cargo", "bench", "--bench", "websocket", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "websocket" \
                and msg.get("executable"):
            return msg["executable"]
    raise SystemExit("cargo did not say where the websocket bench is")


def connect(port, proc):
    end = time.time() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with status {proc.returncode}")
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        except OSError:
            if time.time() > end:
                raise SystemExit(f"nothing listened on port {port}")
            time.sleep(0.2)


def handshake(s, port):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"upgrade refused: {head[:200]!r}")


def frame(text, payload):
    n = len(payload)
    head = bytes([0x81 if text else 0x82])
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("the server closed a connection")
        data += chunk
    return data


def read_echo(s, expect):
    h = recv_exact(s, 2)
    n = h[1] & 0x7F
    if n == 126:
        n = int.from_bytes(recv_exact(s, 2), "big")
    elif n == 127:
        n = int.from_bytes(recv_exact(s, 8), "big")
    payload = recv_exact(s, n)
    if payload != expect:
        raise SystemExit("the echo differs from the message")


def instructions(exe, server, mode, messages, conns, workdir, depth=1, tool="callgrind"):
    port = free_port()
    out = os.path.join(workdir, f"{tool}.out.{port}")
    if tool == "strace":
        argv = ["strace", "-f", "-c", "-o", out]
    else:
        argv = ["valgrind", "--tool=callgrind", "--trace-children=no",
                f"--callgrind-out-file={out}",
                "--log-file=" + os.path.join(workdir, f"valgrind.{port}.log")]
    argv += [exe, "--serve", server, "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    socks = []
    try:
        for _ in range(conns):
            s = connect(port, proc)
            handshake(s, port)
            socks.append(s)
        text, size = MODES[mode]
        payload = bytes(ord("a") + i % 26 for i in range(size))
        msgs = frame(text, payload) * depth
        for i in range(messages // depth):
            s = socks[i % conns]
            s.sendall(msgs)
            for _ in range(depth):
                read_echo(s, payload)
        wait_idle(proc.pid)
    finally:
        # strace writes its summary when the server it traces ends, not when it is
        # itself signalled.
        target = proc.pid
        if tool == "strace":
            try:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    target = int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass
        os.kill(target, signal.SIGTERM)
        try:
            proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for s in socks:
            s.close()
    with open(out) as f:
        for line in f:
            if tool == "strace" and line.rstrip().endswith(" total"):
                return int(line.split()[3])
            if tool == "callgrind" and line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise SystemExit(f"{tool} wrote no total for {server}; see {workdir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--mode", default="both", choices=["small", "large", "both"])
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--depth", type=int, default=1,
                    help="messages sent in one write, their echoes read before more")
    ap.add_argument("--tool", default="callgrind", choices=["callgrind", "strace"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--exe", help="the websocket bench's executable (default: build it)")
    args = ap.parse_args()
    needs = "valgrind" if args.tool == "callgrind" else "strace"
    if shutil.which(needs) is None:
        print(f"websocket_callgrind.py: {needs} is not installed; nothing measured")
        return
    if args.messages <= 0 or args.messages % args.depth:
        raise SystemExit("--messages must be a positive multiple of --depth")
    servers = [s for s in args.servers.split(",") if s]
    for s in servers:
        if s not in SERVERS:
            raise SystemExit(f"unknown server {s}; choose from {', '.join(SERVERS)}")
    exe = args.exe or bench_exe()
    modes = list(MODES) if args.mode == "both" else [args.mode]
    n = args.messages
    figures = {}
    with tempfile.TemporaryDirectory(prefix="ws-callgrind-") as workdir:
        for r in range(args.rounds):
            for mode in modes:
                for server in servers:
                    once = instructions(exe, server, mode, n, args.conns, workdir,
                                        args.depth, args.tool)
                    twice = instructions(exe, server, mode, 2 * n, args.conns, workdir,
                                         args.depth, args.tool)
                    per = (twice - once) / n
                    figures.setdefault((server, mode), []).append(per)
                    print(f"round {r + 1} {mode:5} {server:14} count({n})={once:,} "
                          f"count({2 * n})={twice:,} -> {per:,.2f} per message", file=sys.stderr)
    what = "Instructions" if args.tool == "callgrind" else "System calls"
    print(f"\n{what} per echoed message under {args.tool} ({n} extra messages, "
          f"{args.conns} connections, {args.depth} message(s) per write, "
          f"{args.rounds} round(s), medians)\n")
    unit = "instructions" if args.tool == "callgrind" else "syscalls"
    print(f"| server | message | {unit}/message | × ours | spread |")
    print("|---|---|---:|---:|---:|")
    for mode in modes:
        ours = statistics.median(figures[("ours", mode)]) if ("ours", mode) in figures else None
        label = "32 B text" if mode == "small" else "16 KiB binary"
        for server in servers:
            runs = figures[(server, mode)]
            per = statistics.median(runs)
            ratio = f"{per / ours:.2f}" if ours else "-"
            spread = f"{(max(runs) - min(runs)) / min(runs) * 100:.2f}%" if len(runs) > 1 else "-"
            shown = f"{per:,.0f}" if args.tool == "callgrind" else f"{per:.2f}"
            print(f"| {server} | {label} | {shown} | {ratio} | {spread} |")


if __name__ == "__main__":
    main()
