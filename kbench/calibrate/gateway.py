"""Talking to a live etcd through its v3 JSON gateway: probe, status, members, metrics, cleanup.

etcd serves its v3 API as JSON over HTTP on the client port (grpc-gateway): ``POST /v3/kv/put``,
``/v3/kv/range``, ``/v3/kv/deleterange``, ``/v3/cluster/member/list``, ``/v3/maintenance/status``,
with keys and values base64-encoded; ``GET /version``, ``/health`` and ``/metrics`` are plain HTTP.
proto3 leaves zero values out of the JSON (a ``count_only`` range with no match has no ``count``).
Paths checked against etcd 3.4.23 (docs/CALIBRATE.md). Only the standard library is used.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from kbench.calibrate.promtext import Scrape, parse
from kbench.errors import KbenchError

TIMEOUT_S = 2.0
"""Time allowed for the first answer of an endpoint, seconds."""


@dataclass(frozen=True)
class Endpoint:
    """One etcd client URL.

    Attributes:
        url: As given (``http://127.0.0.1:2379``).
        host: Host name or address.
        port: TCP port.
        tls: An ``ssl.SSLContext`` for ``https`` endpoints, else None.
    """

    url: str
    host: str
    port: int
    tls: ssl.SSLContext | None = None

    @property
    def loopback(self) -> bool:
        """Whether etcd runs on this machine (so its CPU shares our cores and /proc sees it)."""
        return self.host in ("localhost", "127.0.0.1", "::1") or self.host.startswith("127.")

    def connect(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        """A new keep-alive connection."""
        if self.tls is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def endpoint(url: str, cacert: str | None = None, cert: str | None = None, key: str | None = None) -> Endpoint:
    """Parse an endpoint URL (``http://HOST:PORT`` or ``https://...`` with the TLS files).

    Raises:
        KbenchError: Not an http(s) URL with a port.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KbenchError(f"expected http://HOST:PORT or https://HOST:PORT, got {url!r}", where="--endpoints")
    try:
        port = parts.port or (2379 if parts.scheme == "http" else 2379)
    except ValueError:
        raise KbenchError(f"bad port in {url!r}", where="--endpoints") from None
    tls = None
    if parts.scheme == "https":
        tls = ssl.create_default_context(cafile=cacert)
        if cert:
            tls.load_cert_chain(cert, key)
    return Endpoint(url.strip().rstrip("/"), parts.hostname, port, tls)


def _request(ep: Endpoint, method: str, path: str, body: dict | None = None, timeout: float = 10.0) -> bytes:
    conn = ep.connect(timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, data, {"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise KbenchError(f"etcd at {ep.url} answered {resp.status} to {method} {path}: "
                              f"{payload[:120].decode(errors='replace')}")
        return payload
    finally:
        conn.close()


def post(ep: Endpoint, path: str, body: dict, timeout: float = 10.0) -> dict:
    """A JSON gateway call; the decoded answer."""
    return json.loads(_request(ep, "POST", path, body, timeout) or b"{}")


def b64(data: bytes) -> str:
    """base64 text of ``data`` (the gateway's encoding of keys and values)."""
    return base64.b64encode(data).decode()


def probe(ep: Endpoint) -> str:
    """``GET /version`` within :data:`TIMEOUT_S`; returns etcd's server version.

    Raises:
        KbenchError: One line saying why the endpoint cannot be reached (refused, no such host,
            timeout, TLS) or is not etcd.
    """
    try:
        data = json.loads(_request(ep, "GET", "/version", timeout=TIMEOUT_S))
    except KbenchError:
        raise
    except ConnectionRefusedError:
        raise KbenchError(f"cannot reach etcd at {ep.url}: connection refused") from None
    except socket.gaierror:
        raise KbenchError(f"cannot reach etcd at {ep.url}: unknown host {ep.host}") from None
    except TimeoutError:
        raise KbenchError(f"cannot reach etcd at {ep.url}: no answer within {TIMEOUT_S:g} s") from None
    except ssl.SSLError as err:
        raise KbenchError(f"cannot reach etcd at {ep.url}: TLS error ({err.reason or err})") from None
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise KbenchError(f"cannot reach etcd at {ep.url}: {type(err).__name__}: {err}") from None
    if not isinstance(data, dict) or "etcdserver" not in data:
        raise KbenchError(f"{ep.url} answered /version but is not an etcd server: {str(data)[:80]}")
    return str(data["etcdserver"])


def status(ep: Endpoint) -> dict:
    """``/v3/maintenance/status``: ``header.member_id``, ``leader``, ``version``, ``dbSize``."""
    return post(ep, "/v3/maintenance/status", {})


def members(ep: Endpoint) -> int:
    """The number of members of the cluster (``/v3/cluster/member/list``)."""
    return len(post(ep, "/v3/cluster/member/list", {}).get("members", []))


def leader(endpoints: list[Endpoint]) -> Endpoint:
    """The endpoint whose member is the raft leader (the first endpoint if none says so)."""
    for ep in endpoints:
        st = status(ep)
        if str(st.get("header", {}).get("member_id")) == str(st.get("leader")):
            return ep
    return endpoints[0]


def scrape(ep: Endpoint, timeout: float = 10.0) -> Scrape:
    """``GET /metrics``, parsed."""
    return parse(_request(ep, "GET", "/metrics", timeout=timeout).decode(), source=f"{ep.url}/metrics")


def count_keys(ep: Endpoint, prefix: bytes) -> int:
    """Keys under ``prefix`` (a ``count_only`` range; a missing ``count`` is 0, as proto3 omits zero)."""
    ans = post(ep, "/v3/kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix)), "count_only": True})
    return int(ans.get("count", 0))


def delete_prefix(ep: Endpoint, prefix: bytes) -> int:
    """Delete every key under ``prefix``; returns how many were deleted."""
    ans = post(ep, "/v3/kv/deleterange", {"key": b64(prefix), "range_end": b64(prefix_end(prefix))})
    return int(ans.get("deleted", 0))


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with ``prefix`` (its last byte plus one)."""
    end = bytearray(prefix)
    while end and end[-1] == 0xFF:
        end.pop()
    if not end:
        return b"\x00"
    end[-1] += 1
    return bytes(end)
