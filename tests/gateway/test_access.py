"""API keys (bearer) with per-key rate limits, and the anonymous tier."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import RunningCatalog
from tests.gateway.conftest import API_KEY, TIGHT_KEY, RunningGateway, gateway_settings, start_gateway

QUERY = {"query": "SELECT COUNT(*) FROM marts.projects_v1"}


def test_tight_key_gets_429_with_retry_after_and_others_are_unaffected(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {TIGHT_KEY}"}) as tight:
        statuses = [tight.post("/v1/sql", json=QUERY).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200]  # the burst
        assert statuses[3:] == [429, 429]
        limited = tight.post("/v1/sql", json=QUERY)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "rate limit" in limited.json()["error"].lower() and "tight" in limited.json()["error"]
        # Other API routes count against the same key.
        assert tight.get("/v1/tables").status_code == 429
    # Another key has its own bucket.
    assert gateway.sql(QUERY["query"]).status_code == 200
    # Health, docs and the page are not rate limited.
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {TIGHT_KEY}"}) as tight:
        assert tight.get("/health").status_code == 200
        assert tight.get("/openapi.json").status_code == 200


def test_unknown_or_malformed_keys_get_401(gateway: RunningGateway) -> None:
    wrong = httpx.post(f"{gateway.url}/v1/sql", json=QUERY, headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "Unknown API key"
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    basic = httpx.post(f"{gateway.url}/v1/sql", json=QUERY, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401 and "Bearer" in basic.json()["error"]


def test_anonymous_tier_is_tighter(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url) as anonymous:
        statuses = [anonymous.post("/v1/sql", json=QUERY).status_code for _ in range(8)]
    assert statuses[:4] == [200] * 4 and 429 in statuses[4:]
    # The key holder is unaffected by the anonymous tier's exhaustion.
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {API_KEY}"}) as keyed:
        assert [keyed.post("/v1/sql", json=QUERY).status_code for _ in range(8)] == [200] * 8


def test_anonymous_access_can_be_turned_off(lake: RunningCatalog, tmp_path: Path) -> None:
    settings = gateway_settings(lake.settings.with_updates(data_dir=str(tmp_path)), allow_anonymous=False)
    running = start_gateway(settings)
    try:
        refused = httpx.post(f"{running.url}/v1/sql", json=QUERY)
        assert refused.status_code == 401 and "API key is required" in refused.json()["error"]
        assert running.sql(QUERY["query"]).status_code == 200
        assert httpx.get(f"{running.url}/health").status_code == 200
    finally:
        running.client.close()
        running.server.stop()
