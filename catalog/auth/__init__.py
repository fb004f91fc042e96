"""Authentication and authorization of catalog clients (OAuth2 client credentials, roles per warehouse)."""

from catalog.auth.access import AccessMiddleware, Permission, Principal
from catalog.auth.authenticator import Authenticator

__all__ = ["AccessMiddleware", "Authenticator", "Permission", "Principal"]
