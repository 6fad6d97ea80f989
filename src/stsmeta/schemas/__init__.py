"""The JSON Schemas (YAML) that ship inside the package: study files and the analysis plan.

Read through ``importlib.resources`` so that an installed wheel finds them, wherever it runs.
``workflow/schemas/config.schema.yaml`` links to the file here, for ``snakemake.utils.validate``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml


def schema_path(name: str) -> Path:
    """The file of schema `name` (``"study"`` or ``"config"``)."""
    return Path(str(files(__name__) / f"{name}.schema.yaml"))


@cache
def read_schema(name: str) -> dict[str, Any]:
    """Schema `name` as a dict (cached: it never changes while a process runs).

    Parsed by libyaml where present: the pure-Python parser took 0.15 s for each of the study and
    config schemas, a tenth of every Snakemake start (same data either way)."""
    text = (files(__name__) / f"{name}.schema.yaml").read_text(encoding="utf-8")
    from stsmeta.yaml_limits import fast_safe_loader

    return yaml.load(text, Loader=fast_safe_loader())  # noqa: S506 - a SafeLoader
