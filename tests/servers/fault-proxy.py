#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An HTTP proxy on 127.0.0.1 that injects faults between a client and one
upstream server on 127.0.0.1, for the fault tests of tests/remote/*.sh.

    fault-proxy.py PORT UPSTREAM_PORT STATE_DIR

Every request is forwarded to 127.0.0.1:UPSTREAM_PORT with its headers as
they came (Host included, so SigV4 signatures still hold), and the answer
is sent back. What happens instead is steered by files in STATE_DIR:

    503          while it exists, every request is answered 503 SlowDown
                 (an S3 error document); each such answer appends a line to
                 STATE_DIR/served-503
    hold-after   holds a number N: the first N PUT requests pass, the
                 next one is held (never answered) and STATE_DIR/holding
                 is created, so a test can kill a "server" mid-upload
    delay-ms     holds a number N: every request waits N ms before it is
                 forwarded, as over a link with that round-trip time
                 (bench/run-connections.sh)
    lie          a lying server (tests/remote/liar.sh): lines "MODE PATTERN
                 [FILE]"; a GET whose path contains PATTERN, answered 2xx
                 upstream, gets instead
                   oversize   the true body and then 512 MiB of junk, with a
                              Content-Length that says so
                   truncate   the first half of the body, with a
                              Content-Length that says so
                   endless    a chunked body of junk that ends only after
                              30 s (or when the client hangs up)
                   replay     the bytes of FILE (recorded earlier: an older
                              snapshot, another repository's object), the
                              same range of them for a ranged GET
                 each lie appends "MODE PATH" to STATE_DIR/lied; an endless
                 body appends "hung-up PATH" to STATE_DIR/endless when the
                 client hangs up and "finished PATH" when the 30 s ran out
    record       while it exists, the body of every GET of a whole object or
                 of a range from its start is saved as STATE_DIR/bodies/PATH
                 (slashes as '+'; a longer body replaces a shorter one)

The proxy writes STATE_DIR/ready once it listens. Python standard library
only; it never connects anywhere but 127.0.0.1."""

import http.client
import http.server
import os
import sys
import threading
import time

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")


class State:
    def __init__(self, directory, upstream):
        self.dir = directory
        self.upstream = upstream
        self.lock = threading.Lock()
        self.puts = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def exists(self, name):
        return os.path.exists(self.path(name))

    def note(self, name, line):
        with self.lock, open(self.path(name), "a") as f:
            f.write(line + "\n")

    def number(self, name):
        """The number in file name, or -1 if there is none."""
        try:
            with open(self.path(name)) as f:
                return int(f.read().strip() or "0")
        except (OSError, ValueError):
            return -1

    def hold_now(self):
        """True if this PUT is the one to hold."""
        limit = self.number("hold-after")
        if limit < 0:
            return False
        with self.lock:
            self.puts += 1
            return self.puts > limit

    def lie_for(self, path):
        """(mode, file) of the first lie whose pattern path contains, or None."""
        try:
            with open(self.path("lie")) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        for line in lines:
            w = line.split()
            if len(w) >= 2 and w[1] in path:
                return w[0], (w[2] if len(w) > 2 else None)
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        sys.stderr.write("fault-proxy: " + (fmt % args) + "\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        chunks = []
        while n > 0:
            b = self.rfile.read(min(n, 1 << 20))
            if not b:
                raise ConnectionError("client went away")
            chunks.append(b)
            n -= len(b)
        return b"".join(chunks)

    def _answer(self, status, headers, body, head=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def _handle(self):
        st = self.state
        body = self._body()
        if st.exists("503"):
            st.note("served-503", self.command + " " + self.path)
            self._answer(503, [("Content-Type", "application/xml"), ("Content-Length", str(len(SLOWDOWN)))],
                         SLOWDOWN, self.command == "HEAD")
            return
        delay = st.number("delay-ms")
        if delay > 0:
            time.sleep(delay / 1000)
        if self.command == "PUT" and st.hold_now():
            open(st.path("holding"), "w").close()
            while True:
                time.sleep(3600)
        conn = http.client.HTTPConnection("127.0.0.1", st.upstream, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP and k.lower() != "content-length"]
            if self.command == "HEAD":
                cl = resp.getheader("Content-Length")
                if cl is not None:
                    out.append(("Content-Length", cl))
            else:
                if self.command == "GET" and st.exists("record") and (
                        resp.status == 200 or self.headers.get("Range", "").startswith("bytes=0-")):
                    os.makedirs(st.path("bodies"), exist_ok=True)
                    saved = os.path.join(st.path("bodies"), self.path.split("?")[0].strip("/").replace("/", "+"))
                    if not os.path.exists(saved) or os.path.getsize(saved) < len(data):
                        with open(saved, "wb") as f:
                            f.write(data)
                lie = st.lie_for(self.path) if self.command == "GET" and 200 <= resp.status <= 299 else None
                if lie:
                    st.note("lied", lie[0] + " " + self.path)
                    self._lie(lie[0], lie[1], resp.status, out, data)
                    return
                out.append(("Content-Length", str(len(data))))
            self._answer(resp.status, out, data, self.command == "HEAD")
        finally:
            conn.close()

    def _lie(self, mode, path, status, out, data):
        out = [(k, v) for k, v in out if k.lower() not in ("content-range", "etag", "content-md5")]
        junk = b"\xa5" * (1 << 20)
        try:
            if mode == "oversize":
                extra = 512
                self._answer(status, out + [("Content-Length", str(len(data) + extra * len(junk)))], data)
                for _ in range(extra):
                    self.wfile.write(junk)
            elif mode == "truncate":
                data = data[:len(data) // 2]
                self._answer(status, out + [("Content-Length", str(len(data)))], data)
            elif mode == "endless":
                self.send_response(status)
                for k, v in out:
                    self.send_header(k, v)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"%x\r\n" % len(junk) + junk + b"\r\n"
                end = time.monotonic() + 30
                while time.monotonic() < end:
                    self.wfile.write(chunk)
                self.wfile.write(b"0\r\n\r\n")
                self.state.note("endless", "finished " + self.path)
            elif mode == "replay":
                with open(path, "rb") as f:
                    other = f.read()
                rng = self.headers.get("Range", "")
                if status == 206 and rng.startswith("bytes="):
                    a, _, b = rng[6:].partition("-")
                    other = other[int(a):int(b) + 1] if b else other[int(a):]
                self._answer(status, out + [("Content-Length", str(len(other)))], other)
            else:
                raise ValueError("fault-proxy: unknown lie " + mode)
        except (BrokenPipeError, ConnectionResetError):
            if mode == "endless":
                self.state.note("endless", "hung-up " + self.path)
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def main():
    port, upstream, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    Handler.state = State(directory, upstream)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    open(os.path.join(directory, "ready"), "w").close()
    server.serve_forever()


if __name__ == "__main__":
    main()
