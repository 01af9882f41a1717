"""Herald's platform emulator: real platform API subsets, in memory, with fault injection."""

from emulator.app import create_app

__all__ = ["create_app"]
