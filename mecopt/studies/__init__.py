"""Optimality-gap studies: a TOML grid, run locally or on Dask, stored in SQLite, reported."""

from .report import make_report
from .runner import run_study
from .spec import load_study

__all__ = ["load_study", "run_study", "make_report"]
