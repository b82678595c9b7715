"""The three problems. Each module holds its schema, referee, Pyomo model(s) and generator."""

from . import jrors, offloading, power

PROBLEMS = {m.NAME: m for m in (offloading, jrors, power)}

__all__ = ["PROBLEMS", "offloading", "jrors", "power"]
