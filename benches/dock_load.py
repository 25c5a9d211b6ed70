#!/usr/bin/env python3
"""Load generator for benches/soak-dock.sh: mutual-TLS downloaders and misbehaving
clients against a docked camera's dock API. Standard library only.

Subcommands (all print one JSON object on stdout):
  download   N concurrent downloaders, each fetching every closed segment's media once
             (sha256 checked against the files); "seconds" is the wall time for all.
  idle       open N TCP connections that never start TLS and hold them SECONDS; reports
             how long each stayed open (the server's handshake deadline or eviction).
  drip       N clients that complete TLS, then send request headers one byte every
             GAP seconds; reports when the server cut each off (header deadline).
  stall      N clients that start a download and stop reading; reports when the server
             cut each off (stall deadline).
"""

import argparse
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time


def tls_context(pki):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=os.path.join(pki, "ca.pem"))
    ctx.load_cert_chain(os.path.join(pki, "dock.pem"), os.path.join(pki, "dock.key"))
    ctx.check_hostname = False
    return ctx


def connect(args):
    raw = socket.create_connection((args.host, args.port), timeout=args.timeout)
    return tls_context(args.pki).wrap_socket(raw, server_hostname="localhost")


def http_get(args, path):
    """One GET on a fresh connection; returns (status, body)."""
    s = connect(args)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: camera\r\nConnection: close\r\n\r\n".encode())
        buf = bytearray()
        while True:
            try:
                chunk = s.recv(1 << 16)
            except ssl.SSLEOFError:
                break
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    head, _, body = bytes(buf).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body


def segments(args):
    status, body = http_get(args, "/v1/recordings")
    if status != 200:
        raise SystemExit(f"listing: HTTP {status}")
    out = []
    for rec in json.loads(body)["recordings"]:
        for seg in rec["segments"]:
            if seg.get("closed"):
                out.append((rec["id"], seg["sequence"]))
    return out


def cmd_download(args):
    """The listing and every segment's media, by N clients at once; timed from the
    listing on (a dock lists before it downloads)."""
    t = time.monotonic()
    segs = segments(args)
    errors = []
    got = {}
    done_bytes = [0]
    lock = threading.Lock()

    def worker(w):
        for rec, seq in segs:
            try:
                status, body = http_get(args, f"/v1/recordings/{rec}/segments/{seq}/media")
            except OSError as e:
                with lock:
                    errors.append(f"{rec}/{seq}: {e}")
                continue
            digest = hashlib.sha256(body).hexdigest()
            with lock:
                got[(w, rec, seq)] = (status, digest, len(body))
                done_bytes[0] += len(body)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.monotonic() - t
    expected = {}
    for rec, seq in segs:
        with open(os.path.join(args.store, "recordings", rec, f"{seq:06}.ts"), "rb") as f:
            expected[(rec, seq)] = hashlib.sha256(f.read()).hexdigest()
    for (w, rec, seq), (status, digest, n) in sorted(got.items()):
        if status != 200 or digest != expected[(rec, seq)]:
            errors.append(f"client {w} {rec}/{seq}: HTTP {status}, {n} bytes")
    print(json.dumps({"clients": args.n, "segments": len(segs), "bytes": done_bytes[0],
                      "seconds": round(seconds, 3), "errors": errors}))


def watch_close(sock, started, results, lock, limit):
    """Wait until the server closes `sock` (or `limit` s pass); record when."""
    sock.settimeout(0.5)
    while time.monotonic() - started < limit:
        try:
            b = sock.recv(1 << 16)
            if not b:
                break
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        except (OSError, ssl.SSLError):
            break
    with lock:
        results.append(round(time.monotonic() - started, 2))
    try:
        sock.close()
    except OSError:
        pass


def report(kind, results, limit):
    results.sort()
    cut = [r for r in results if r < limit]
    print(json.dumps({"kind": kind, "clients": len(results), "cut_off": len(cut),
                      "min_s": cut[0] if cut else None, "max_s": cut[-1] if cut else None}))


def cmd_idle(args):
    results, lock, threads = [], threading.Lock(), []
    for _ in range(args.n):
        s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        th = threading.Thread(target=watch_close, args=(s, time.monotonic(), results, lock, args.seconds))
        th.start()
        threads.append(th)
    if args.ready:
        open(args.ready, "w").close()
    for th in threads:
        th.join()
    report("idle", results, args.seconds)


def cmd_drip(args):
    results, lock, threads = [], threading.Lock(), []
    request = b"GET /v1/device HTTP/1.1\r\nHost: camera\r\nX-Slow: " + b"a" * 200

    def one():
        s = connect(args)
        started = time.monotonic()
        for b in request:
            if time.monotonic() - started > args.seconds:
                break
            try:
                s.sendall(bytes([b]))
                s.settimeout(args.gap)
                try:
                    if s.recv(1) == b"":
                        break
                except (socket.timeout, ssl.SSLWantReadError):
                    pass
            except (OSError, ssl.SSLError):
                break
        with lock:
            results.append(round(time.monotonic() - started, 2))
        s.close()

    for _ in range(args.n):
        th = threading.Thread(target=one)
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    report("drip", results, args.seconds)


def cmd_stall(args):
    rec, seq = segments(args)[0]
    results, lock, threads = [], threading.Lock(), []

    def one():
        s = connect(args)
        lport = s.getsockname()[1]
        s.sendall(f"GET /v1/recordings/{rec}/segments/{seq}/media HTTP/1.1\r\nHost: camera\r\n\r\n".encode())
        s.recv(1024)  # the response starts; then this client stops reading
        started = time.monotonic()
        # Not reading, the client's buffers fill and the server's writes stop making
        # progress. When the server gives up it closes its socket, which then waits in
        # FIN-WAIT-1 behind the unsent data: watch for that on the server's side.
        flt = f"( sport = :{args.port} and dport = :{lport} )"
        while time.monotonic() - started < args.seconds:
            time.sleep(0.5)
            r = subprocess.run(["ss", "-Htn", "state", "fin-wait-1", flt],
                               capture_output=True, text=True, check=False)
            if r.stdout.strip():
                break
        with lock:
            results.append(round(time.monotonic() - started, 2))
        s.close()

    for _ in range(args.n):
        th = threading.Thread(target=one)
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    report("stall", results, args.seconds)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["download", "idle", "drip", "stall"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--store", default="")
    p.add_argument("-n", type=int, default=8)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--gap", type=float, default=2.0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--ready", default="")
    args = p.parse_args()
    {"download": cmd_download, "idle": cmd_idle, "drip": cmd_drip, "stall": cmd_stall}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
