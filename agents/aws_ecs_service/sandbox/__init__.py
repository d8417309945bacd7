"""The built-in sandbox behind `ecs-agent demo`: a local AWS (moto's server, in this process)
holding cluster `demo` with a broken service `api` (a bad deploy to roll back)."""
from .server import Sandbox

__all__ = ["Sandbox"]
