"""Dagster orchestration of Commonlake: assets, checks, jobs, schedules and sensors.

Everything here calls the public functions of ``ingestion``, ``sqlmesh_project.runner``
and ``operations``; Dagster owns no data logic of its own. The one ``Definitions`` object
is built in :mod:`orchestration.definitions`.
"""
