"""A fork: this node's own SQLMesh models over the marts it mirrors from another node."""

from mirror.fork.runner import FORK_MIRROR, run_fork_models

__all__ = ["FORK_MIRROR", "run_fork_models"]
