"""Entry point for the `sqlmesh` CLI: the project's config from COMMONLAKE_* settings."""

from commonlake.settings import Settings
from sqlmesh_project.project_config import build_config

config = build_config(Settings())
