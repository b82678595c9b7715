"""Solver plug-ins. ``registry()`` lists them; ``solve(instance, name)`` runs one through the referee."""

from .base import Options, Proposal, Result, Status, Termination, get_solver, register, registry, solve

__all__ = ["Options", "Proposal", "Result", "Status", "Termination", "get_solver", "register",
           "registry", "solve"]
