"""The Typer application behind the `mecopt` command."""

from .app import app

__all__ = ["app"]
