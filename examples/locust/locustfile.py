"""Locust reporting to Redline: event hooks send every request to the agent over statsd.

    REDLINE_STATSD=127.0.0.1:8125 locust -f locustfile.py --headless -u 50 -r 10 -t 5m \
        --host http://127.0.0.1:8080

Distributed, one worker per core (each worker is one injector process for Redline):
    locust -f locustfile.py --master ...   and N times   locust -f locustfile.py --worker
with the agent started as `redline --preset locust --injector locust='[l]ocust -f .*--worker'`.

Statsd names (map them with `redline --preset locust`):
    locust.<method>.<name>.requests|failures   counters
    locust.<method>.<name>.response_time       timer, ms
    locust.users.<pid>                         gauge: users running in this process
"""
import os
import re

import gevent
import statsd
from locust import HttpUser, between, events, task

_host, _, _port = os.environ.get("REDLINE_STATSD", "127.0.0.1:8125").rpartition(":")
STATS = statsd.StatsClient(_host or "127.0.0.1", int(_port or 8125), prefix="locust")
PID = os.getpid()
_unsafe = re.compile(r"[^A-Za-z0-9_]+")


def _key(request_type, name):
    return "%s.%s" % (_unsafe.sub("_", request_type or "none").strip("_") or "none", _unsafe.sub("_", name or "none").strip("_") or "root")


@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception=None, **_kw):
    key = _key(request_type, name)
    STATS.incr(key + ".requests")
    STATS.timing(key + ".response_time", response_time or 0)
    if exception is not None:
        STATS.incr(key + ".failures")


@events.init.add_listener
def on_init(environment, **_kw):
    # Users in this process (a worker's share when distributed), twice a second.
    def report():
        while True:
            runner = environment.runner
            STATS.gauge("users.%d" % PID, runner.user_count if runner is not None else 0)
            gevent.sleep(0.5)

    gevent.spawn(report)


@events.quitting.add_listener
def on_quitting(environment, **_kw):
    STATS.gauge("users.%d" % PID, 0)


class Shopper(HttpUser):
    """Log in, do something, log out."""

    wait_time = between(0.2, 0.5)

    @task
    def scenario(self):
        self.client.post("/login", json={"user": "u", "password": "p"}, name="login")
        self.client.get("/work", name="work")
        self.client.post("/logout", json={}, name="logout")
