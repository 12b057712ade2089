#!/usr/bin/env python3
"""A gevent load injector reporting to Redline with the plain `statsd` client.

The shape of a classic capacity test (the ArangoDB one, for instance): one Python process
spawns greenlets, each running "log in, do something, log out" in a loop, and counts what it
does over statsd. Run several processes to add load; the agent counts them as injector
processes when started with `--injector gevent='loadtest[.]py'`.

    python3 loadtest.py --target http://127.0.0.1:8080 --users 50 --duration 60 \
        --statsd 127.0.0.1:8125 --scenario checkout

Statsd names (map them with `redline --preset gevent`):
    gevent.<scenario>.<step>.requests|errors   counters
    gevent.<scenario>.<step>.duration          timer, ms
    gevent.<scenario>.active_users.<pid>       gauge
    gevent.<scenario>.offered_rate.<pid>       gauge, requests/s this process aims at
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

import gevent  # noqa: E402
import statsd  # noqa: E402

STEPS = (("login", "POST", "/login", b'{"user":"u","password":"p"}'), ("work", "GET", "/work", None), ("logout", "POST", "/logout", b"{}"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", default="http://127.0.0.1:8080")
    p.add_argument("--users", type=int, default=10, help="greenlets, each one user looping over the scenario")
    p.add_argument("--think", type=float, default=0.5, help="seconds a user waits between scenarios")
    p.add_argument("--duration", type=float, default=30.0, help="seconds to run")
    p.add_argument("--statsd", default="127.0.0.1:8125", help="host:port of the Redline agent")
    p.add_argument("--scenario", default="gevent")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args(argv)
    host, _, port = a.statsd.rpartition(":")
    if not host or not port.isdigit():
        p.error("--statsd: expected host:port")
    a.statsd_host, a.statsd_port = host, int(port)
    if a.users < 1 or a.duration <= 0:
        p.error("--users must be >= 1 and --duration > 0")
    return a


def main(argv=None):
    a = parse_args(argv)
    stats = statsd.StatsClient(a.statsd_host, a.statsd_port, prefix="gevent.%s" % a.scenario)
    pid = os.getpid()
    active = [0]
    deadline = time.monotonic() + a.duration

    def one_request(step, method, path, body):
        req = urllib.request.Request(a.target + path, data=body, method=method, headers={"content-type": "application/json"})
        started = time.perf_counter()
        ok = True
        try:
            with urllib.request.urlopen(req, timeout=a.timeout) as res:
                res.read()
                ok = res.status < 500
        except urllib.error.HTTPError as e:
            ok = e.code < 500
        except Exception:  # refused, reset, timeout: all count as errors
            ok = False
        stats.timing("%s.duration" % step, (time.perf_counter() - started) * 1000.0)
        stats.incr("%s.requests" % step)
        if not ok:
            stats.incr("%s.errors" % step)
        return ok

    def user():
        while time.monotonic() < deadline:
            active[0] += 1
            try:
                for step, method, path, body in STEPS:
                    if not one_request(step, method, path, body):
                        break
            finally:
                active[0] -= 1
            gevent.sleep(a.think)

    def gauges():
        while True:
            stats.gauge("active_users.%d" % pid, active[0])
            stats.gauge("offered_rate.%d" % pid, round(a.users * len(STEPS) / max(a.think, 0.001), 3))
            gevent.sleep(0.5)

    reporter = gevent.spawn(gauges)
    gevent.joinall([gevent.spawn(user) for _ in range(a.users)], timeout=a.duration + a.timeout + 5)
    reporter.kill()
    stats.gauge("active_users.%d" % pid, 0)
    stats.gauge("offered_rate.%d" % pid, 0)


if __name__ == "__main__":
    main()
