"""Dispatch: a newsletter and syndication publisher."""

from dispatch.config import Settings, load
from dispatch.errors import DispatchError

__all__ = ["DispatchError", "Settings", "load"]
__version__ = "0.1.0"
