#!/usr/bin/env python3
"""Hold N open WebSockets against a server and report its memory per socket.

usage (from the repository root):
  cargo build --release --example websocket_echo
  target/release/examples/websocket_echo --port 9001 &
  python3 benches/websocket_idle.py $! 9001 15000

../shared/peers/idle_conns.py, but each connection is upgraded to a WebSocket (no
extensions offered, so no compression) and echoes one small message before it goes
idle. Prints the server's RSS before and after, and the growth per socket in bytes.
"""
import socket
import sys
import time

MASK = bytes([1, 2, 3, 4])


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main():
    pid, port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    upgrade = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    hello = b"hello"
    frame = bytes([0x81, 0x80 | len(hello)]) + MASK + bytes(
        b ^ MASK[i % 4] for i, b in enumerate(hello))
    echo = bytes([0x81, len(hello)]) + hello
    before = rss(pid)
    socks = []
    ok = 0
    deadline = time.time() + 300
    for i in range(n):
        # Several loopback source addresses, so ports never run out.
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % 4}", 0))
        s.connect(("127.0.0.1", port))
        s.settimeout(max(1.0, deadline - time.time()))
        s.sendall(upgrade)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if not data.startswith(b"HTTP/1.1 101"):
            socks.append(s)
            continue
        data = data.split(b"\r\n\r\n", 1)[1]
        s.sendall(frame)
        while len(data) < len(echo):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        ok += data == echo
        socks.append(s)
    time.sleep(1.0)
    after = rss(pid)
    print(f"websockets={n} echoed={ok} rss_before={before} rss_after={after} "
          f"bytes_per_socket={(after - before) / n:.0f}")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
