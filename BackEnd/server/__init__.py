"""The bare HTTP server's guards: header size and deadline, idle timeout, connection cap."""

from .limits import ConnectionLimits, connection_limits
from .options import server_options
from .protocol import GuardedHttpToolsProtocol

__all__ = ["ConnectionLimits", "GuardedHttpToolsProtocol", "connection_limits", "server_options"]
