"""The gateway in front of a catalog that requires OAuth2 tokens: every version probe carries one."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from catalog.auth.secrets import hash_secret
from tests.conftest import make_settings, start_catalog
from tests.gateway.conftest import gateway_settings, start_gateway


def test_queries_through_a_catalog_that_requires_tokens(tmp_path: Path) -> None:
    principals = {
        "etl": {"secret_hash": hash_secret("etl-secret"), "roles": {"commonlake": "writer"}},
        "gateway": {"secret_hash": hash_secret("gateway-secret"), "roles": {"commonlake": "reader"}},
    }
    auth = {"enabled": True, "principals": principals, "signing_key": "s" * 40}
    settings = make_settings(tmp_path).with_updates(catalog={"auth": auth, "credential": "etl:etl-secret"})
    catalog = start_catalog(settings)
    gateway = None
    try:
        schema = pa.schema([("id", pa.int64())])
        catalog.catalog.create_namespace("marts")
        table = catalog.catalog.create_table("marts.secured", schema=schema)
        table.append(pa.table({"id": [1, 2, 3]}, schema=schema))
        gateway = start_gateway(
            gateway_settings(settings.with_updates(catalog={"credential": "gateway:gateway-secret"}))
        )
        for _ in range(3):  # the first probe loads the table, the next ones are conditional
            response = gateway.sql("SELECT SUM(id) FROM marts.secured", headers={"Cache-Control": "no-cache"})
            assert response.status_code == 200, response.text
            assert response.json()["rows"] == [[6]]
        table.append(pa.table({"id": [4]}, schema=schema))
        assert gateway.sql("SELECT SUM(id) FROM marts.secured").json()["rows"] == [[10]]
    finally:
        if gateway is not None:
            gateway.client.close()
            gateway.server.stop()
        catalog.server.stop()
