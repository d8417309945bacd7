"""Where services and credentials come from: AWS itself (default) or Planton Cloud."""
from .factory import Discovery, build_discovery
from .interface import (
    CredentialNotFound,
    CredentialSource,
    CredentialSummary,
    DiscoveryError,
    SdkCredentials,
    ServiceDirectory,
    ServiceNotFound,
    ServiceRecord,
)
from .matching import find_services

__all__ = [
    "CredentialNotFound", "CredentialSource", "CredentialSummary", "Discovery", "DiscoveryError", "SdkCredentials",
    "ServiceDirectory", "ServiceNotFound", "ServiceRecord", "build_discovery", "find_services",
]
