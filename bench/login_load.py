#!/usr/bin/env python3
"""API reads while 100 people log in at once (issue 21: hashing once held pooled connections and
stalled reads for up to 4.2 s).

Starts nothing: run it against a service started by bench/login_load.sh. A reader thread asks
GET /api/v1/instruments?per_page=20 with a bearer token, one request after another, first alone
(the baseline), then while 100 threads each fetch the login form and post the right password
(600 000 PBKDF2 rounds each) as one of 25 users (USER_PREFIX1 … USER_PREFIX25), four each. Prints the reads' p50 / p99 / max in both phases and their ratio.

    bench/login_load.py URL USER_PREFIX PASSWORD TOKEN [LOGINS]
"""
import http.client
import re
import statistics
import sys
import threading
import time
import urllib.parse


def connection(base):
    parsed = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)


def read_once(conn, token):
    started = time.perf_counter()
    conn.request("GET", "/api/v1/instruments?per_page=20", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def login(base, user, password):
    conn = connection(base)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="login_token" value="([0-9a-f]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": user, "password": password, "login_token": token, "next": "/"})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    return response.status


def summary(latencies):
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


def main():
    base, user, password, token = sys.argv[1:5]
    logins = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    conn = connection(base)
    for _ in range(50):
        read_once(conn, token)
    baseline = [read_once(conn, token) for _ in range(400)]

    statuses = []
    threads = [
        threading.Thread(target=lambda i=i: statuses.append(login(base, f"{user}{i % 25 + 1}", password)))
        for i in range(logins)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    during = []
    while any(thread.is_alive() for thread in threads):
        during.append(read_once(conn, token))
    took = time.perf_counter() - started
    for thread in threads:
        thread.join()
    logged_in = sum(1 for status in statuses if status == 303)
    b, d = summary(baseline), summary(during)
    print(f"{logins} logins ({logged_in} logged in) took {took:.1f} s; {len(during)} reads meanwhile")
    print(f"reads alone:        p50 {b[0]:.2f} ms, p99 {b[1]:.2f} ms, max {b[2]:.2f} ms")
    print(f"reads during logins: p50 {d[0]:.2f} ms, p99 {d[1]:.2f} ms, max {d[2]:.2f} ms")
    print(f"ratio during/alone: p50 {d[0] / b[0]:.2f}x, p99 {d[1] / b[1]:.2f}x")


if __name__ == "__main__":
    main()
