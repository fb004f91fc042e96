"""Commonlake: an open lakehouse for data about the open-source commons."""

__version__ = "0.1.0"
