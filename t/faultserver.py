#!/usr/bin/env python3
"""faultserver: a scripted, fault-injecting HTTP/1.1 server for tests.

It listens on 127.0.0.1, port 0 (or --port N), and prints the port on the
first line of stdout.  A test then drives it with one JSON object per line
on stdin; every command gets exactly one JSON line back on stdout, echoing
the command's "id" (so a reader can skip stale replies).  EOF on stdin, or
{"cmd": "quit"}, ends the server.

Commands:
  {"cmd": "push", "response": SPEC}      queue one scripted response
  {"cmd": "push", "responses": [SPEC...]}
  {"cmd": "default", "response": SPEC}   answer when nothing queued matches
                                         (initially 500 with a JSON message)
  {"cmd": "requests"}  -> {"requests": [REQ...], "closed": [CONN...],
                           "connections": N}
  {"cmd": "wait", "requests": N, "closed": N, "closed_conn": C,
   "timeout_ms": T}    -> {"ok": true|false, "requests": n, "closed": [...]}
                          once every given condition holds, or at timeout
  {"cmd": "reset"}     forget the queue, default, requests and closes

SPEC (all optional):
  status      200            reason   the standard phrase
  headers     [[name, value], ...] or {name: value}
  body        text (UTF-8)   json     a value sent as the body (adds
                                      Content-Type: application/json)
  repeat      N: the body N times
  delay_ms    wait before answering
  action      "respond" | "drop" (close without an answer) | "reset" (close
              with a TCP RST) | "hold" (never answer; note when the client
              closes) | "partial" (announce the full length, send half the
              body, close)
  close       true: "Connection: close" and close after answering
  match       {"method": M, "path": P, "prefix": P}: only requests that fit
              (path compares the whole target, query included)
  times       N uses before the spec is spent (default 1; 0: forever)

REQ: {"n", "conn", "method", "target", "path", "query", "version",
      "headers": [[name, value], ...], "body", "t_ms"} in arrival order;
t_ms is milliseconds since the server started (monotonic).

Connections are kept alive (HTTP/1.1).  Request bodies are read by
Content-Length or chunked encoding; heads are bounded to 64 KiB and bodies
to 64 MiB (larger gets a 413 and a close).
"""

import json
import socket
import sys
import threading
import time

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted",
    204: "No Content", 301: "Moved Permanently", 302: "Found",
    304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 409: "Conflict",
    413: "Payload Too Large", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

START = time.monotonic()


class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.reset()

    def reset(self):
        self.queue = []
        self.default = {"status": 500,
                        "json": {"message": "faultserver: nothing scripted"}}
        self.requests = []
        self.closed = []
        self.connections = 0

    def take(self, method, target):
        """The first queued spec that matches (spent when used up)."""
        path = target.split("?", 1)[0]
        for i, spec in enumerate(self.queue):
            m = spec.get("match") or {}
            if "method" in m and m["method"] != method:
                continue
            if "path" in m and m["path"] != target:
                continue
            if "prefix" in m and not path.startswith(m["prefix"]):
                continue
            times = spec.get("times", 1)
            if times == 1:
                del self.queue[i]
            elif times > 1:
                spec["times"] = times - 1
            return spec
        return self.default


STATE = State()


class ClientGone(Exception):
    pass


class Conn:
    def __init__(self, sock, cid):
        self.sock = sock
        self.cid = cid
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ClientGone()
        self.buf += data

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise ValueError("head too large")
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head.decode("latin-1")

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise ValueError("chunk line too long")
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def read_chunked(self):
        out = b""
        while True:
            size = int(self.read_line().split(";", 1)[0].strip(), 16)
            if size == 0:
                while self.read_line() != "":
                    pass
                return out
            if len(out) + size > MAX_BODY:
                raise ValueError("body too large")
            out += self.read_exact(size)
            self.read_line()


def header(headers, name):
    for k, v in reversed(headers):
        if k.lower() == name.lower():
            return v
    return None


def spec_headers(spec):
    h = spec.get("headers") or []
    if isinstance(h, dict):
        h = list(h.items())
    return [(str(k), str(v)) for k, v in h]


def build(spec, method):
    """(head bytes, body bytes) for a respond/partial spec."""
    status = int(spec.get("status", 200))
    headers = spec_headers(spec)
    names = {k.lower() for k, _ in headers}
    if "json" in spec:
        body = json.dumps(spec["json"]).encode()
        if "content-type" not in names:
            headers.append(("Content-Type", "application/json"))
    else:
        body = str(spec.get("body", "")).encode()
    body *= int(spec.get("repeat", 1))
    if "content-length" not in names and status not in (204, 304) \
            and status >= 200:
        headers.append(("Content-Length", str(len(body))))
    if spec.get("close"):
        headers.append(("Connection", "close"))
    reason = spec.get("reason", REASONS.get(status, "Status"))
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if method == "HEAD" or status in (204, 304):
        body = b""
    return head, body


def note_closed(cid):
    with STATE.cond:
        STATE.closed.append(cid)
        STATE.cond.notify_all()


def read_request(c):
    """One request as a REQ dict (not yet recorded)."""
    lines = c.read_head().split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip())
        elif ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    if header(headers, "Expect") == "100-continue":
        c.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    te = header(headers, "Transfer-Encoding")
    if te is not None and "chunked" in te.lower():
        body = c.read_chunked()
    else:
        n = int(header(headers, "Content-Length") or "0")
        if n > MAX_BODY:
            raise ValueError("body too large")
        body = c.read_exact(n)
    path, _, query = target.partition("?")
    return {"method": method, "target": target, "path": path,
            "query": query, "version": version,
            "headers": [[k, v] for k, v in headers],
            "body": body.decode("utf-8", "replace")}


def hold(c):
    """Never answer: wait for the client to go away."""
    try:
        while True:
            c.fill()
    except (ClientGone, OSError):
        note_closed(c.cid)


def answer(c, spec, req):
    """Send spec's answer; False when the connection is done."""
    action = spec.get("action", "respond")
    if spec.get("delay_ms"):
        time.sleep(spec["delay_ms"] / 1000.0)
    if action == "hold":
        hold(c)
        return False
    if action == "drop":
        c.sock.close()
        return False
    if action == "reset":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.sock.close()
        return False
    head, body = build(spec, req["method"])
    if action == "partial":
        c.sock.sendall(head + body[:len(body) // 2])
        c.sock.close()
        return False
    c.sock.sendall(head + body)
    if spec.get("close") or \
            (header_value(req, "Connection") or "").lower() == "close":
        c.sock.close()
        return False
    return True


def header_value(req, name):
    return header([(k, v) for k, v in req["headers"]], name)


def serve(sock, cid):
    c = Conn(sock, cid)
    try:
        while True:
            try:
                req = read_request(c)
            except ValueError:
                sock.sendall(b"HTTP/1.1 413 Payload Too Large\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                sock.close()
                return
            with STATE.cond:
                req["n"] = len(STATE.requests) + 1
                req["conn"] = cid
                req["t_ms"] = (time.monotonic() - START) * 1000.0
                STATE.requests.append(req)
                spec = dict(STATE.take(req["method"], req["target"]))
                STATE.cond.notify_all()
            if not answer(c, spec, req):
                return
    except ClientGone:
        note_closed(cid)
    except OSError:
        note_closed(cid)
        try:
            sock.close()
        except OSError:
            pass


def acceptor(lsock):
    while True:
        try:
            sock, _ = lsock.accept()
        except OSError:
            return
        with STATE.cond:
            STATE.connections += 1
            cid = STATE.connections
        threading.Thread(target=serve, args=(sock, cid), daemon=True).start()


def wait_for(cmd):
    deadline = time.monotonic() + cmd.get("timeout_ms", 5000) / 1000.0
    nreq = cmd.get("requests")
    nclosed = cmd.get("closed")
    conn = cmd.get("closed_conn")

    def done():
        return ((nreq is None or len(STATE.requests) >= nreq) and
                (nclosed is None or len(STATE.closed) >= nclosed) and
                (conn is None or conn in STATE.closed))
    with STATE.cond:
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            STATE.cond.wait(left)
        return {"ok": done(), "requests": len(STATE.requests),
                "closed": list(STATE.closed)}


def command(cmd):
    op = cmd.get("cmd")
    if op == "push":
        specs = cmd.get("responses") or [cmd.get("response") or {}]
        with STATE.cond:
            STATE.queue.extend(dict(s) for s in specs)
        return {"ok": True}
    if op == "default":
        with STATE.cond:
            STATE.default = dict(cmd.get("response") or {})
        return {"ok": True}
    if op == "requests":
        with STATE.cond:
            return {"requests": list(STATE.requests),
                    "closed": list(STATE.closed),
                    "connections": STATE.connections}
    if op == "wait":
        return wait_for(cmd)
    if op == "reset":
        with STATE.cond:
            STATE.reset()
        return {"ok": True}
    return {"ok": False, "error": "unknown command %r" % (op,)}


def main():
    port = 0
    if len(sys.argv) == 3 and sys.argv[1] == "--port":
        port = int(sys.argv[2])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(128)
    threading.Thread(target=acceptor, args=(lsock,), daemon=True).start()
    out = sys.stdout
    out.write("%d\n" % lsock.getsockname()[1])
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
        except ValueError as e:
            cmd, reply = {}, {"ok": False, "error": "bad JSON: %s" % e}
        else:
            if cmd.get("cmd") == "quit":
                break
            reply = command(cmd)
        if "id" in cmd:
            reply["id"] = cmd["id"]
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
