"""Mirrors and forks of other Commonlake nodes.

A mirror brings the tables of chosen namespaces of a remote node's catalog into the local
catalog as read-only tables ``NAME.<namespace>.<table>``, talking to the remote only the
way any third party would: its public Iceberg REST API and its object store.

* ``register`` mode points each local table at the remote's files (zero copy);
* ``copy`` mode replicates data and metadata into the local warehouse, snapshot by snapshot.

Configuration and per-table state live in the local catalog (namespace and table
properties), so they survive restarts and travel with the catalog database.
"""

from mirror.errors import MirrorError
from mirror.refresh import RefreshReport, TableOutcome, plan_refresh, refresh_mirror
from mirror.registry import MirrorConfig, add_mirror, get_mirror, list_mirrors, remove_mirror

__all__ = [
    "MirrorConfig",
    "MirrorError",
    "RefreshReport",
    "TableOutcome",
    "add_mirror",
    "get_mirror",
    "list_mirrors",
    "plan_refresh",
    "refresh_mirror",
    "remove_mirror",
]
