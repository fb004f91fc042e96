"""Sources: each extracts one public dataset into Arrow tables, one unit of load at a time."""

from ingestion.sources.gharchive import GhArchiveSource, SourceError
from ingestion.sources.ossd import OssDirectorySource

__all__ = ["GhArchiveSource", "OssDirectorySource", "SourceError"]
