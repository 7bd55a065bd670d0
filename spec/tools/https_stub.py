#!/usr/bin/env python3
"""https_stub.py — the far end of speezy.http in the API specs: a small HTTPS (and plain HTTP)
server with its own throwaway CA, on free loopback ports.

    python3 spec/tools/https_stub.py DIR [--max-seconds N]

Makes, in DIR, a CA (ca.pem) and a server certificate it signed for the name "localhost" only
(no IP address in it, so https://127.0.0.1 is a host name mismatch), then serves HTTPS and
plain HTTP on 127.0.0.1 and writes DIR/ports.json {"https": port, "http": port} once both
listen. Requests are logged to DIR/stub.log. It exits by itself after --max-seconds (default
600) or once its parent is gone, so a crashed spec leaves nothing behind.

Routes (any method):
    /echo[?status=N]    the request as JSON {method, path, headers (lower-case names), body,
                        body_len}, with status N (default 200) and the headers X-Stub: yes,
                        Set-Twice: a and Set-Twice: b; with quiet=1, without the body
    /sleep?ms=N         answers after N ms (at most 30 s)
    /bytes?n=N          N bytes with a Content-Length
    /stream?n=N         N bytes, chunked (no Content-Length)
    /redirect?to=URL    302 to URL
    /hold?key=K         waits until /release?key=K (at most 30 s), or until the client hangs up
    /held?key=K         {"waiting": requests of K waiting now, "gone": those whose client hung up}
    /release?key=K      lets every /hold of K answer
    /record?key=K       keeps the request {method, path, headers, body} under K and answers
                        it back as JSON, with the status /answer last set for K (200 by default)
    /answer?key=K&status=N[&hold=H]  what /record of K answers from now on: status N; with
                        hold=H, only once /release?key=H came (waiting as /hold?key=H does)
    /recorded?key=K     [{method, path, headers (lower-case names), body}...] kept under K
"""
import json
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOLD_MAX_SECONDS = 30

holds = {}  # key -> {"event", "waiting", "gone"}
holds_lock = threading.Lock()

records = {}  # key -> [request...], for /record and /recorded
answers = {}  # key -> (status, ms), for /record
records_lock = threading.Lock()


def hold_state(key):
    with holds_lock:
        if key not in holds:
            holds[key] = {"event": threading.Event(), "waiting": 0, "gone": 0}
        return holds[key]


def make_certs(d):
    """A CA and a server certificate for "localhost" signed by it (EC keys: fast to make)."""

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=speezy test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stub"
    log_file = None

    def log_message(self, fmt, *args):
        if Handler.log_file:
            Handler.log_file.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))
            Handler.log_file.flush()

    def send(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.read_body()
        route = getattr(self, "route_" + url.path.strip("/"), None)
        if route is None:
            return self.send(404, b"no such route")
        route(q, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    def route_echo(self, q, body):
        out = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_len": len(body),
        }
        if not q.get("quiet"):
            out["body"] = body.decode("latin-1")
        self.send(int(q.get("status", 200)), json.dumps(out).encode(),
                  [("Content-Type", "application/json"), ("X-Stub", "yes"),
                   ("Set-Twice", "a"), ("Set-Twice", "b")])

    def route_sleep(self, q, body):
        time.sleep(min(int(q.get("ms", 0)), 30000) / 1000)
        self.send(200, b"slept")

    def route_bytes(self, q, body):
        self.send(200, b"x" * int(q["n"]))

    def route_stream(self, q, body):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        left = int(q["n"])
        while left > 0:
            n = min(left, 1000)
            self.wfile.write(b"%x\r\n%s\r\n" % (n, b"x" * n))
            left -= n
        self.wfile.write(b"0\r\n\r\n")

    def route_redirect(self, q, body):
        self.send(302, b"moved", [("Location", q["to"])])

    def client_gone(self):
        """True when the client closed its end (readable, and nothing to read)."""
        sock = self.connection
        if not select.select([sock], [], [], 0)[0]:
            return False
        try:
            if isinstance(sock, ssl.SSLSocket):
                return sock.recv(1) == b""
            return sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ssl.SSLError):
            return True

    def held(self, key):
        """Waits until /release of key (at most 30 s); False when the client hung up first."""
        st = hold_state(key)
        with holds_lock:
            st["waiting"] += 1
        deadline = time.monotonic() + HOLD_MAX_SECONDS
        gone = False
        while not st["event"].wait(0.05) and time.monotonic() < deadline:
            if self.client_gone():
                gone = True
                break
        with holds_lock:
            st["waiting"] -= 1
            st["gone"] += gone
        return not gone

    def route_hold(self, q, body):
        if self.held(q["key"]):
            self.send(200, b"released")
        else:
            self.close_connection = True

    def route_held(self, q, body):
        st = hold_state(q["key"])
        with holds_lock:
            out = {"waiting": st["waiting"], "gone": st["gone"]}
        self.send(200, json.dumps(out).encode(), [("Content-Type", "application/json")])

    def route_release(self, q, body):
        hold_state(q["key"])["event"].set()
        self.send(200, b'{"released": true}', [("Content-Type", "application/json")])

    def route_record(self, q, body):
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        with records_lock:
            records.setdefault(q["key"], []).append(seen)
            status, hold = answers.get(q["key"], (200, None))
        if hold and not self.held(hold):
            self.close_connection = True
            return
        # the request itself as the answer: a provider's error that echoes what it got
        self.send(status, json.dumps(seen).encode(), [("Content-Type", "application/json")])

    def route_answer(self, q, body):
        with records_lock:
            answers[q["key"]] = (int(q.get("status", 200)), q.get("hold"))
        self.send(200, b'{"answer": true}', [("Content-Type", "application/json")])

    def route_recorded(self, q, body):
        with records_lock:
            out = list(records.get(q["key"], []))
        self.send(200, json.dumps(out).encode(), [("Content-Type", "application/json")])


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up mid-answer is what some tests do


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    d = os.path.abspath(sys.argv[1])
    max_seconds = 600
    if len(sys.argv) > 3 and sys.argv[2] == "--max-seconds":
        max_seconds = int(sys.argv[3])
    os.makedirs(d, exist_ok=True)
    make_certs(d)
    Handler.log_file = open(os.path.join(d, "stub.log"), "a")

    https = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    https.socket = ctx.wrap_socket(https.socket, server_side=True)
    plain = Server(("127.0.0.1", 0), Handler)
    serve(https)
    serve(plain)

    tmp = os.path.join(d, "ports.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"https": https.server_address[1], "http": plain.server_address[1]}, f)
    os.rename(tmp, os.path.join(d, "ports.json"))

    parent = os.getppid()
    end = time.monotonic() + max_seconds
    while time.monotonic() < end and os.getppid() == parent:
        time.sleep(0.2)


if __name__ == "__main__":
    main()
