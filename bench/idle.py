#!/usr/bin/env python3
"""Opens N keep-alive TLS connections to 127.0.0.1:PORT, makes one request
on each (so every connection has done its handshake and a request, as an
idle shopper's would), prints how many are open, then holds them until
its standard input closes. For bench/run.sh's idle-connections row."""

import selectors
import socket
import ssl
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

conns = []
failed = 0
for _ in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        t.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = t.recv(4096)
            if not chunk:
                raise OSError("closed")
            head += chunk
        conns.append(t)
    except OSError:
        failed += 1
print(len(conns), failed, flush=True)
# Hold until told to stop; a connection the server closes is just counted.
sel = selectors.DefaultSelector()
sel.register(sys.stdin, selectors.EVENT_READ)
sel.select()
for c in conns:
    c.close()
