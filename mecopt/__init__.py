"""mecopt: ground truth for optimisation in mobile edge computing."""

from .errors import InfeasibleError, InputError
from .io import load_instance, load_solution
from .solvers import Result, Status, registry, solve

__version__ = "0.1.0"

__all__ = ["load_instance", "load_solution", "solve", "registry", "Result", "Status",
           "InputError", "InfeasibleError", "__version__"]
