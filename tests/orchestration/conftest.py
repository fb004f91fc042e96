"""Fixtures of the orchestration tests."""

from __future__ import annotations

import pytest

from commonlake.settings import Settings
from orchestration.model_graph import ModelNode, load_model_nodes


@pytest.fixture(scope="session")
def model_nodes(tmp_path_factory: pytest.TempPathFactory) -> list[ModelNode]:
    """The SQLMesh project's model nodes (loading the project takes seconds: once per session)."""
    return load_model_nodes(Settings(data_dir=tmp_path_factory.mktemp("sqlmesh-project")))
