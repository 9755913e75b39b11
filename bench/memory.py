#!/usr/bin/env python3
"""Drives a running otpgate for bench/memory.sh: N sends through the JSON
API (`POST /.otpgate/api/send`, N distinct phone numbers), or N held
requests (a `POST` of BODY bytes to a protected route without a session).
Several keep-alive TLS connections in parallel; prints how many answered
as expected and how many did not (with the first odd answer). With RATE
in the environment, the sends are paced to RATE a second in all
(bench/pending.sh's steady load)."""

import http.client
import json
import ssl
import sys
import os
import threading
import time

host, port, what, first, count, threads = sys.argv[1:7]
port, first, count, threads = int(port), int(first), int(count), int(threads)
body_size = int(sys.argv[7]) if len(sys.argv) > 7 else 0
origin = f"https://{host}:{port}"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

ok = 0
bad = 0
odd = []
lock = threading.Lock()


def phone(i):
    # +91 98 then 8 digits: a valid Indian mobile number per i.
    return "+9198%08d" % i


def one(conn, i):
    if what == "send":
        payload = json.dumps({"phone": phone(i)})
        headers = {"Content-Type": "application/json", "Origin": origin}
        conn.request("POST", "/.otpgate/api/send", payload, headers)
        want = (200,)
    else:
        # A form post of body_size bytes, distinct per request.
        tag = "n=%08d&x=" % i
        payload = tag + "a" * max(0, body_size - len(tag))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": origin,
            "Sec-Fetch-Site": "same-origin",
        }
        conn.request("POST", "/checkout", payload, headers)
        r = conn.getresponse()
        data = r.read()
        # A script's POST: 401 with the hold confirmed in the JSON.
        return r.status == 401 and b'"held":true' in data, "%s %s" % (r.status, data[:200])
    r = conn.getresponse()
    data = r.read()
    return r.status in want, "%s %s" % (r.status, data[:200])


rate = float(os.environ.get("RATE", "0"))
started = time.monotonic()


def worker(indices):
    global ok, bad
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    for k, i in enumerate(indices):
        if rate:
            # This thread's k-th request is due at k * threads / rate.
            due = started + k * threads / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        try:
            good, text = one(conn, i)
        except (OSError, http.client.HTTPException) as e:
            good, text = False, repr(e)
            conn.close()
            conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
        with lock:
            if good:
                ok += 1
            else:
                bad += 1
                if not odd:
                    odd.append(text)


ts = [
    threading.Thread(target=worker, args=(range(first + t, first + count, threads),))
    for t in range(threads)
]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(ok, bad, odd[0] if odd else "")
