"""The gateway over a warehouse in a real S3 server (SeaweedFS): DataFusion reads the pruned files from S3."""

from __future__ import annotations

from pathlib import Path

from commonlake.seaweedfs import SeaweedFS
from tests.conftest import make_settings, start_catalog
from tests.gateway.conftest import gateway_settings, start_gateway
from tests.gateway.marts import PROJECTS, build_marts, project_id


def test_queries_read_s3_data_files(tmp_path: Path) -> None:
    with SeaweedFS(tmp_path / "seaweedfs") as s3:
        settings = make_settings(tmp_path / "lake").with_updates(**s3.settings_changes())
        running = start_catalog(settings)
        try:
            marts = build_marts(running.catalog)
            table = running.catalog.load_table("marts.timeseries_metrics_by_project_v0")
            assert table.metadata_location.startswith("s3://")
            gateway = start_gateway(gateway_settings(settings))
            try:
                target = project_id(PROJECTS[1])
                response = gateway.sql(
                    f"SELECT SUM(amount) FROM marts.timeseries_metrics_by_project_v0 WHERE project_id = '{target}'"
                )
                assert response.status_code == 200, response.text
                rows = table.scan().to_arrow().to_pylist()
                assert response.json()["rows"] == [[sum(r["amount"] for r in rows if r["project_id"] == target)]]
                scan = response.json()["stats"]["tables"]["marts.timeseries_metrics_by_project_v0"]
                assert scan["files_scanned"] == 1 and scan["files_total"] == marts.timeseries_files
            finally:
                gateway.client.close()
                gateway.server.stop()
        finally:
            running.server.stop()
