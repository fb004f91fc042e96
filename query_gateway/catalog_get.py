"""GET requests to the catalog through its ``requests.Session``'s own connection pool, minus requests' per-request work.

A table-version probe runs for every query. Through ``Session.get`` it cost about 0.6 ms
of the gateway's CPU, most of it requests working out again, on every request, the proxy
and CA settings from the environment and the connection pool's key (with a filesystem
check of the CA bundle). Here that is worked out once per URL; each request then goes
straight to the same urllib3 pool with the session's headers and the catalog's current
Authorization header. A session this cannot reproduce exactly (a custom adapter such as
SigV4 signing, a proxy, another kind of auth) goes through ``Session.send`` instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests
import urllib3
from requests.adapters import HTTPAdapter


@dataclass(frozen=True)
class Reply:
    """What the probe needs of an HTTP answer."""

    status: int
    text: str
    etag: str | None


@dataclass(frozen=True)
class _Route:
    prepared: requests.PreparedRequest  # the URL and query string, for the fallback and the pool's path
    environment: dict  # proxies, verify, cert from the environment, as Session.request works them out
    pool_key: tuple[dict, dict] | None  # urllib3 host parameters and pool arguments; None: use Session.send


class CatalogGetter:
    """Sends GETs through one session, reusing what does not change between requests."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()

    def get(self, url: str, params: dict[str, str], headers: dict[str, str]) -> Reply:
        """GET ``url`` with ``params`` and extra ``headers``; requests' or urllib3's exceptions when unreachable."""
        route = self._route(url, params)
        adapter = self.session.get_adapter(url)
        auth = self._authorization()
        if route.pool_key is None or auth is None or not isinstance(adapter, HTTPAdapter):
            request = self.session.prepare_request(requests.Request("GET", url, headers, params=params))
            response = self.session.send(request, **route.environment)
            return Reply(response.status_code, response.text, response.headers.get("ETag"))
        host, pool_arguments = route.pool_key
        pool = adapter.poolmanager.connection_from_host(**host, pool_kwargs=pool_arguments)
        answer = pool.urlopen(
            "GET",
            route.prepared.path_url,
            headers={**self.session.headers, **auth, **headers},
            redirect=False,
            assert_same_host=False,
            retries=adapter.max_retries,
            preload_content=True,
            decode_content=True,
        )
        return Reply(answer.status, answer.data.decode("utf-8", errors="replace"), answer.headers.get("ETag"))

    def _authorization(self) -> dict[str, str] | None:
        """The Authorization header the session would send, or None when only the session can add it."""
        auth = self.session.auth
        if auth is None:
            return {}
        manager = getattr(auth, "auth_manager", None)  # PyIceberg's AuthManagerAdapter
        if manager is None:
            return None
        header = manager.auth_header()
        return {"Authorization": header} if header else {}

    def _route(self, url: str, params: dict[str, str]) -> _Route:
        key = url + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        with self._lock:
            route = self._routes.get(key)
        if route is not None:
            return route
        prepared = requests.Request("GET", url, params=params).prepare()
        target = prepared.url or url
        environment = self.session.merge_environment_settings(target, {}, None, None, None)
        adapter = self.session.get_adapter(target)
        plain = type(adapter) is HTTPAdapter and not environment["proxies"] and not self.session.proxies
        pool_key = None
        if plain:
            pool_key = adapter.build_connection_pool_key_attributes(
                prepared, environment["verify"], environment["cert"]
            )
        route = _Route(prepared, environment, pool_key)
        with self._lock:
            self._routes[key] = route
        return route


UNREACHABLE = (requests.RequestException, urllib3.exceptions.HTTPError)
