# Helpers shared by every stage: config validation, study discovery, and the check of every study
# file before any job runs (so that a bad file changes no result).

import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from stsmeta.analysis import plan_fingerprint
from stsmeta.config import load_config

validate(config, schema="../schemas/config.schema.yaml")
# Checks the schema cannot express (one primary outcome, an ordered range, ...).
_config_problems = load_config(config, file=workflow.configfiles[0])[1]
if _config_problems:
    raise WorkflowError("\n".join(str(p) for p in _config_problems))

# Rules call `python -m stsmeta` with the package on PYTHONPATH, so that jobs run the same code
# whether stsmeta was pip-installed or the rule runs in its conda environment (envs/stsmeta.yaml).
os.environ["PYTHONPATH"] = os.pathsep.join(
    p
    for p in (str(Path(workflow.basedir) / "workflow"), os.environ.get("PYTHONPATH"))
    if p
)
STSMETA = "python -m stsmeta"
CONDA_ENV = "../../envs/stsmeta.yaml"

CONFIG_FILE = "config.yaml"
STUDIES_DIR = config.get("studies_dir", "data/raw")
RESULTS = "results"
OUTCOMES = sorted(config["outcomes"])
SCENARIOS = sorted(config["scenarios"])
VERSION = str(config["report"]["version"])

wildcard_constraints:
    study="[a-z0-9][a-z0-9-]*",
    outcome="[a-z0-9_]+",
    scenario="[a-z0-9_]+",


def discover_studies(studies_dir):
    """Sorted study ids (file stems) of data/raw/*.yaml; every file is checked first."""
    from stsmeta.studyfile import validate_paths

    paths = sorted(Path(studies_dir).glob("*.yaml"))
    if not paths:
        raise WorkflowError(f"{studies_dir}: no study files (*.yaml) found")
    problems = validate_paths([str(p) for p in paths], config=config)
    if problems:
        raise WorkflowError(
            "Invalid study files; nothing was run and no result was changed:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    return [p.stem for p in paths]


STUDIES = discover_studies(STUDIES_DIR)


def normalised_files():
    return expand(f"{RESULTS}/normalised/{{study}}.json", study=STUDIES)


def pooled_files():
    return expand(
        f"{RESULTS}/pooled/{{outcome}}/{{scenario}}.json",
        outcome=OUTCOMES,
        scenario=SCENARIOS,
    )


def all_outputs():
    return [
        *normalised_files(),
        *TABLES,
        *pooled_files(),
        *FIGURES,
        f"{RESULTS}/report.html",
        f"{RESULTS}/report.md",
    ]
