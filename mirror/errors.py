"""The errors a mirror reports: each says what failed and what to do, never a credential."""

from __future__ import annotations


class MirrorError(Exception):
    """Base of every mirror failure shown to a user."""


class MirrorConfigError(MirrorError):
    """A bad mirror name, mode, namespace list or URI, or a mirror that does (not) exist."""


class RemoteUnavailableError(MirrorError):
    """The remote catalog does not answer (stopped, unreachable, or failing)."""


class RemoteAccessError(MirrorError):
    """The remote refuses us: missing or wrong credentials, or no read role."""


class SourceFileError(MirrorError):
    """A remote file is missing, or differs from what its manifest declares (size, row count)."""


class UnsupportedTableError(MirrorError):
    """A remote table this version cannot mirror (e.g. format version 3)."""
