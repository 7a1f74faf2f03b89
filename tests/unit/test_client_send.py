"""``Client.send`` (a write without a process) answers as ``Client.call`` does: the same
rate-limiter waits and the same Retry-After retries of a 429 (I16), at the same instants."""

from __future__ import annotations

import simpy

from kbench.cluster.apiserver.request import Request, Response
from kbench.cluster.clients.client import Client
from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.config import ClientClassConfig
from kbench.simkernel import fire


class FakeApi:
    """Answers after ``latency_s``: 429 with Retry-After ``retry_s`` to the first ``rejects``
    requests, then 200; records when each request arrived."""

    def __init__(self, env: simpy.Environment, rejects: int, retry_s: float = 0.5, latency_s: float = 0.01):
        self.env, self.rejects, self.retry_s, self.latency_s = env, rejects, retry_s, latency_s
        self.arrivals: list[float] = []

    def _answer(self) -> Response:
        self.arrivals.append(self.env.now)
        if len(self.arrivals) <= self.rejects:
            return Response(429, retry_after_s=self.retry_s)
        return Response(200)

    def submit(self, req: Request, done) -> None:
        resp = self._answer()
        self.env.timeout(self.latency_s).callbacks.append(lambda _e: done(resp))

    def serve(self, req: Request, rv: int = 0) -> simpy.Event:
        resp = self._answer()
        ev = simpy.Event(self.env)
        self.env.timeout(self.latency_s).callbacks.append(lambda _e: fire(ev, resp))
        return ev


def _client(max_retries: int, qps: float = 2.0, burst: int = 1, cls=Client) -> Client:
    cfg = ClientClassConfig(qps=qps, burst=burst, max_retries=max_retries)
    return cls("c", "test", "u", ("g",), TokenBucket(qps, burst), cfg, {})


def _run(kind: str, rejects: int, max_retries: int, cls=Client):
    env = simpy.Environment()
    api = FakeApi(env, rejects)
    client = _client(max_retries, cls=cls)
    got: list[tuple[float, int]] = []
    req = Request("update", "leases", name="n1")
    if kind == "send":
        client.send(env, api, req, lambda resp: got.append((env.now, resp.code)))
    else:
        def proc():
            resp = yield from client.call(env, api, req)
            got.append((env.now, resp.code))
        env.process(proc())
    env.run()
    return got, api.arrivals, client.retries


def test_send_retries_a_429_with_retry_after_as_call_does():
    for rejects, max_retries in ((0, 10), (2, 10), (3, 2)):
        sent, called = _run("send", rejects, max_retries), _run("call", rejects, max_retries)
        assert sent == called
    got, arrivals, retries = _run("send", 2, 10)
    # two 429s answered after 10 ms each, Retry-After 0.5 s, then a token (2/s, burst 1) each time
    assert got == [(arrivals[-1] + 0.01, 200)] and len(arrivals) == 3
    assert all(b - a >= 0.5 for a, b in zip(arrivals, arrivals[1:], strict=False))
    assert retries == {"test": 2}


def test_send_gives_up_after_max_retries_with_the_429():
    got, arrivals, retries = _run("send", 5, 2)
    assert [code for _, code in got] == [429] and len(arrivals) == 3 and retries == {"test": 2}


def test_a_kubelets_client_retries_the_same_way():
    """NodeClient.send (the kubelet's writes) goes through the same retries, gate or not."""
    from kbench.cluster.kubelet.nodeclient import NodeClient

    for rejects, max_retries in ((2, 10), (3, 2)):
        assert _run("send", rejects, max_retries, NodeClient) == _run("call", rejects, max_retries, NodeClient)
