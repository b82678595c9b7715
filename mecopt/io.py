"""Reading instances and solutions (validated, one-line errors) and writing files atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import InputError
from .formulations import PROBLEMS
from .formulations._schema import SCHEMA_VERSION, validate


def read_json(path: str | os.PathLike, what: str) -> Any:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise InputError(f"{what}: cannot read {path}: {err.strerror or err}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise InputError(f"{what}: {path} is not valid JSON ({err.msg} at line {err.lineno})") from None


def _reject_constant(name: str):
    raise InputError(f"instance: {name} is not a finite number")


def instance_from_dict(data: Any):
    """Validate a dict as an instance of the problem its ``problem`` field names."""
    if not isinstance(data, dict):
        raise InputError("instance: expected a JSON object")
    if data.get("schema") != SCHEMA_VERSION:
        raise InputError(f"instance: schema: expected \"{SCHEMA_VERSION}\", got {data.get('schema')!r}")
    problem = data.get("problem")
    if problem not in PROBLEMS:
        raise InputError(f"instance: problem: expected one of {', '.join(PROBLEMS)}, got {problem!r}")
    return validate(PROBLEMS[problem].Instance, data, "instance")


def load_instance(path: str | os.PathLike):
    """Load and validate an instance file; raises :class:`InputError` naming the bad field."""
    return instance_from_dict(read_json(path, "instance"))


def solution_from_dict(instance, data: Any):
    if isinstance(data, dict) and "solution" in data and isinstance(data["solution"], dict):
        data = data["solution"]  # accept the output of `mecopt solve --json` as it is
    return validate(PROBLEMS[instance.problem].Solution, data, "solution")


def load_solution(instance, path: str | os.PathLike):
    return solution_from_dict(instance, read_json(path, "solution"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it: never half a file."""
    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def write_atomic(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it: never half a file."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a written file should not be
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    write_atomic(path, write)
