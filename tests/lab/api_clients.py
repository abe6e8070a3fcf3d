#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# api_clients.py: many clients of one hasvcd TCP API (HTTPS with the lab CA),
# for tests/lab/test_api_slowloris.sh. Run it in a host's network namespace
# (`deploy/lab exec NODE python3 ...`); --bind picks the source address.
#
#   slow    --count N slow clients (slowloris): each connects, does the TLS
#           handshake, sends a request line and then one header every
#           --interval seconds, never the end of the headers. A connection the
#           server closes is opened again at once, for --seconds in all.
#           --status FILE is rewritten every second: {"open", "max_open",
#           "refused", "cut", "cut_after_min", "cut_after_max"} (open: TLS
#           done and not yet closed; refused: closed before or during the
#           handshake or within 0.5 s of it, as MHD does over a limit; cut:
#           closed by the server later, and how long after the connect). The same JSON is printed at the end.
#   streams --count N event streams (GET /v1/events/stream?token=...), opened
#           one after the other; --status FILE gets {"ok", "busy", "other"}
#           once all are asked for. The 200 ones are read until --seconds
#           pass; then the process ends at once (os._exit: the kernel closes
#           the sockets, the way a client that crashed or lost its laptop lid
#           goes), after writing "exit_ms" (epoch milliseconds) to the status.
import argparse
import json
import os
import select
import socket
import ssl
import sys
import threading
import time


def tls_context(ca):
    if not ca:
        return None  # plain HTTP (a listener with http_plain = yes)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the lab's certificates name the host's address
    return ctx


def connect(args, ctx):
    host, port = args.connect.rsplit(":", 1)
    source = (args.bind, 0) if args.bind else None
    raw = socket.create_connection((host, int(port)), timeout=5, source_address=source)
    if not ctx:
        return raw
    try:
        return ctx.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def write_status(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


class Slow:
    def __init__(self, args):
        self.args = args
        self.ctx = tls_context(args.ca)
        self.lock = threading.Lock()
        self.open = self.max_open = self.refused = self.cut = 0
        self.cut_after = []
        self.end = time.monotonic() + args.seconds

    def stats(self):
        with self.lock:
            return {
                "open": self.open,
                "max_open": self.max_open,
                "refused": self.refused,
                "cut": self.cut,
                "cut_after_min": round(min(self.cut_after), 2) if self.cut_after else None,
                "cut_after_max": round(max(self.cut_after), 2) if self.cut_after else None,
            }

    def one(self):
        try:
            s = connect(self.args, self.ctx)
        except (OSError, ssl.SSLError):
            with self.lock:
                self.refused += 1
            time.sleep(0.5)
            return
        t0 = time.monotonic()
        try:
            # taken, or closed at once (over a limit: MHD accepts, then closes)?
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: hasvc\r\n")
            s.settimeout(0.5)
            if s.recv(4096) == b"":
                raise ConnectionResetError
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except (OSError, ssl.SSLError):
            s.close()
            with self.lock:
                self.refused += 1
            time.sleep(0.5)
            return
        with self.lock:
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        closed_by_server = False
        try:
            n = 0
            while time.monotonic() < self.end:
                s.settimeout(min(self.args.interval, max(0.01, self.end - time.monotonic())))
                try:
                    if s.recv(4096) == b"":
                        closed_by_server = True
                        break
                except (socket.timeout, ssl.SSLWantReadError):
                    n += 1
                    s.sendall(b"X-Slow-%d: %d\r\n" % (n, n))
        except (OSError, ssl.SSLError):
            closed_by_server = True
        finally:
            with self.lock:
                self.open -= 1
                if closed_by_server:
                    self.cut += 1
                    self.cut_after.append(time.monotonic() - t0)
            s.close()

    def worker(self):
        while time.monotonic() < self.end:
            self.one()

    def run(self):
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.args.count)]
        for t in threads:
            t.start()
        while time.monotonic() < self.end:
            if self.args.status:
                write_status(self.args.status, self.stats())
            time.sleep(1)
        for t in threads:
            t.join(timeout=10)
        if self.args.status:
            write_status(self.args.status, self.stats())
        print(json.dumps(self.stats()))


def streams(args):
    ctx = tls_context(args.ca)
    held, counts = [], {"ok": 0, "busy": 0, "other": 0}
    request = (
        "GET /v1/events/stream?since=999999999&token=%s HTTP/1.1\r\nHost: hasvc\r\n"
        "Accept: text/event-stream\r\n\r\n" % args.token
    ).encode()
    for _ in range(args.count):
        try:
            s = connect(args, ctx)
            s.sendall(request)
            s.settimeout(5)
            head = s.recv(4096)
        except (OSError, ssl.SSLError) as e:
            print("stream: %s" % e, file=sys.stderr)
            counts["other"] += 1
            continue
        status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/1.") else b""
        if status == b"200":
            counts["ok"] += 1
            s.setblocking(False)
            held.append(s)
        else:
            counts["busy" if status == b"503" else "other"] += 1
            s.close()
    if args.status:
        write_status(args.status, counts)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end and held:
        ready, _, _ = select.select(held, [], [], max(0.01, end - time.monotonic()))
        for s in ready:
            try:
                if s.recv(65536) == b"":
                    held.remove(s)
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
            except (OSError, ssl.SSLError):
                held.remove(s)
    counts["exit_ms"] = int(time.time() * 1000)
    if args.status:
        write_status(args.status, counts)
    sys.stdout.flush()
    os._exit(0)  # no TLS close_notify, no HTTP end: the sockets just close


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["slow", "streams"])
    p.add_argument("--connect", required=True, help="ADDR:PORT of the TCP API")
    p.add_argument("--ca", help="the CA of the API's certificate; none: plain HTTP")
    p.add_argument("--bind", help="source address")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--interval", type=float, default=20)
    p.add_argument("--token", default="lab-read-token")
    p.add_argument("--status")
    args = p.parse_args()
    if args.mode == "slow":
        Slow(args).run()
    else:
        streams(args)


if __name__ == "__main__":
    main()
