"""Exceptions that the command line maps to exit codes.

``InputError``  -> exit 2 (bad input: the message names the field).
``InfeasibleError`` -> exit 1 (a well-formed instance that has no feasible solution).
"""


class MecoptError(Exception):
    """Base class of mecopt's own errors."""


class InputError(MecoptError, ValueError):
    """An instance, solution or option is malformed; the message names the field."""


class InfeasibleError(MecoptError):
    """The instance has no feasible solution; the message says why."""


class SolverUnavailableError(MecoptError):
    """A solver's optional dependency is missing; the message says what to install."""
