"""Commonlake's SQLMesh project: raw events → staging → intermediate → OSO-style marts."""
