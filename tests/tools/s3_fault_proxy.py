#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of an S3 server (moto), for trailq's S3 tests.

Every request is forwarded to --upstream unchanged, except:
  --slowdown-every N   every Nth request is answered 503 SlowDown (S3's throttling answer)
  --reset-every N      every Nth request's connection is closed without an answer
  --truncate-every N   every Nth object GET sends its headers and half its body, then closes
  --deny TEXT          requests whose path or query contain TEXT get 403 AccessDenied (repeatable)
  --stall TEXT         requests whose path or query contain TEXT are read and never answered
                       (the connection stays open; repeatable)
GET /_proxy/stats answers JSON counts: requests, lists, gets, slowdowns, resets, truncated, denied,
stalled, and list_prefixes (the prefix of every list request).
Prints "listening PORT" once it accepts connections.
"""

import argparse
import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def error_body(code, message):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>"
    ).encode()


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        opts, stats, lock = self.server.opts, self.server.stats, self.server.lock
        if self.path == "/_proxy/stats":
            body = json.dumps(stats).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = urllib.parse.urlsplit(self.path).query
        is_list = self.command == "GET" and "list-type=2" in query
        is_get = self.command == "GET" and not is_list and "?" not in self.path.split("/", 3)[-1]
        with lock:
            stats["requests"] += 1
            n = stats["requests"]
            stats["lists"] += is_list
            stats["gets"] += is_get
            if is_list:
                prefix = urllib.parse.parse_qs(query).get("prefix", [""])[0]
                stats["list_prefixes"].append(prefix)
        unquoted = urllib.parse.unquote(self.path)
        if any(text in unquoted for text in opts.deny):
            with lock:
                stats["denied"] += 1
            return self.answer_error(403, "AccessDenied", "Access Denied (by the test proxy)")
        if any(text in unquoted for text in opts.stall):
            with lock:
                stats["stalled"] += 1
            threading.Event().wait()  # this handler's thread holds the connection, silent
        if opts.slowdown_every and n % opts.slowdown_every == 0:
            with lock:
                stats["slowdowns"] += 1
            return self.answer_error(503, "SlowDown", "Please reduce your request rate.")
        if opts.reset_every and n % opts.reset_every == 0:
            with lock:
                stats["resets"] += 1
            self.close_connection = True
            self.connection.shutdown(2)
            return
        upstream = http.client.HTTPConnection(opts.up_host, opts.up_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        truncate = is_get and answer.status in (200, 206) and opts.truncate_every and len(data) > 1
        if truncate:
            with lock:
                stats["gets_seen"] += 1
                truncate = stats["gets_seen"] % opts.truncate_every == 0
                stats["truncated"] += truncate
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    def answer_error(self, status, code, message):
        body = error_body(code, message)
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True, help="http://HOST:PORT of the S3 server")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--slowdown-every", type=int, default=0)
    p.add_argument("--reset-every", type=int, default=0)
    p.add_argument("--truncate-every", type=int, default=0)
    p.add_argument("--deny", action="append", default=[])
    p.add_argument("--stall", action="append", default=[])
    opts = p.parse_args()
    up = urllib.parse.urlsplit(opts.upstream)
    opts.up_host, opts.up_port = up.hostname, up.port
    server = ThreadingHTTPServer(("127.0.0.1", opts.port), Proxy)
    server.daemon_threads = True
    server.opts = opts
    server.stats = dict.fromkeys(
        ["requests", "lists", "gets", "gets_seen", "slowdowns", "resets", "truncated", "denied", "stalled"], 0
    )
    server.stats["list_prefixes"] = []
    server.lock = threading.Lock()
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
