"""ro-crate-metadata.json: a Workflow Run Crate of the run, written with the ``rocrate`` package.

Profiles, in their current versions: RO-Crate 1.3 (https://w3id.org/ro/crate/1.3), Process
Run Crate 0.6, Workflow Run Crate 0.6 (https://w3id.org/ro/wfrun/workflow/0.6; Leo et al. 2024,
PLoS ONE 19(9):e0309210) and Workflow RO-Crate 1.1. The main entity is the Snakefile, a
ComputationalWorkflow in Snakemake (with its version); the run is a CreateAction whose
instrument is that workflow, whose objects are the study files and the configuration, and whose
results are the report, figures, tables, pooled and normalised results. No clock: identifiers
are fixed and the only date is the release date.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import PurePosixPath

from stsmeta.archive.layout import (
    CITATION_NAME,
    CRATE_NAME,
    EFFECTIVE_CONFIG_NAME,
    MANIFEST_NAME,
    OVERRIDES_NAME,
    README_NAME,
    RESULTS_FOLDER,
)
from stsmeta.archive.lock import LOCK_NAME
from stsmeta.archive.metadata import NOT_A_GIT_CHECKOUT, ResultsMetadata

PROFILES = (
    ("https://w3id.org/ro/wfrun/process/0.6", "Process Run Crate", "0.6"),
    ("https://w3id.org/ro/wfrun/workflow/0.6", "Workflow Run Crate", "0.6"),
)
SOFTWARE_ID = "#stsmeta"
PYTHON_ID = "https://www.python.org/"
_FORMATS = {
    ".cff": "application/x-yaml",
    ".csv": "text/csv",
    ".html": "text/html",
    ".json": "application/json",
    ".lock": "text/plain",
    ".md": "text/markdown",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".py": "text/x-python",
    ".rst": "text/x-rst",
    ".sha256": "text/plain",
    ".smk": "text/x-python",
    ".svg": "image/svg+xml",
    ".toml": "application/toml",
    ".txt": "text/plain",
    ".yaml": "application/x-yaml",
    ".yml": "application/x-yaml",
}


def _format(name: str) -> str | None:
    if PurePosixPath(name).name == "Snakefile":
        return "text/x-python"
    return _FORMATS.get(PurePosixPath(name).suffix.lower())


def _add_authors(crate, meta: ResultsMetadata) -> list:
    from rocrate.model.contextentity import ContextEntity

    people = []
    for i, author in enumerate(meta.authors, start=1):
        entity_id = author.get("orcid", f"#author-{i}")
        if "family-names" in author:
            given = author.get("given-names", "")
            props = {
                "@type": "Person",
                "name": f"{given} {author['family-names']}".strip(),
                "familyName": author["family-names"],
            }
            if given:
                props["givenName"] = given
        else:
            props = {"@type": "Organization", "name": author["name"]}
        people.append(crate.add(ContextEntity(crate, entity_id, properties=props)))
    return people


def _add_software(crate, meta: ResultsMetadata):
    """stsmeta itself and each pinned dependency, with exact versions."""
    from rocrate.model.contextentity import ContextEntity

    requirements = []
    for software in meta.software:
        requirements.append(
            crate.add(
                ContextEntity(
                    crate,
                    f"#software-{software.name.lower()}",
                    properties={
                        "@type": "SoftwareApplication",
                        "name": software.name,
                        "softwareVersion": software.version,
                        "version": software.version,
                        "url": software.url,
                    },
                )
            )
        )
    stsmeta = {
        "@type": "SoftwareApplication",
        "name": "stsmeta",
        "softwareVersion": meta.software_version,
        "version": meta.software_version,
        "url": meta.repository or "src/",
        "description": (
            "The Python package that computed these results; its source is in src/. "
            + (
                "Not built from a git checkout."
                if meta.source_version == NOT_A_GIT_CHECKOUT
                else f"Git commit: {meta.source_version}."
            )
        ),
        "softwareRequirements": [{"@id": r.id} for r in requirements],
    }
    return crate.add(ContextEntity(crate, SOFTWARE_ID, properties=stsmeta))


# What each kind of file is, for the crate's descriptions (first matching prefix wins).
_DESCRIPTIONS = (
    (f"{RESULTS_FOLDER}/report.", "The report of the meta-analysis."),
    (
        f"{RESULTS_FOLDER}/figures/print-record.sha256",
        "What drew the PNG and PDF figures, and the SHA-256 of the SVGs they match.",
    ),
    (f"{RESULTS_FOLDER}/figures/", "A figure of the report (SVG; PNG and PDF for print)."),
    (f"{RESULTS_FOLDER}/tables/", "A table of the report (CSV)."),
    (f"{RESULTS_FOLDER}/pool/", "Pooled estimates of one outcome and scenario (JSON)."),
    (f"{RESULTS_FOLDER}/normalised/", "A study file as normalised for the analysis (JSON)."),
    (f"{RESULTS_FOLDER}/coverage/", "Summary of the coverage study of the methods."),
    ("src/", "Source of the stsmeta package that computed the results."),
    ("workflow/", "Part of the Snakemake workflow."),
    ("envs/", "The exact software versions of the run."),
    ("profiles/", "Snakemake profile of the workflow."),
    (EFFECTIVE_CONFIG_NAME, "The configuration the run computed with, after every override."),
    (OVERRIDES_NAME, "The run's command-line overrides (snakemake --config), for the rerun."),
    (README_NAME, "What this archive holds, and how to verify and rerun it."),
    (f"{RESULTS_FOLDER}/archive/", "The published archive of the previous version."),
    (LOCK_NAME, "The record of the previous published archives stored here."),
    ("pyproject.toml", "Package metadata of stsmeta, with its pinned dependencies."),
)


def _description(name: str, meta: ResultsMetadata) -> str | None:
    if name.startswith(f"{meta.studies_dir}/"):
        return "A study file: data extracted from one publication, with sources."
    if name in meta.config_files:
        return "The analysis plan the run was given."
    return next((text for prefix, text in _DESCRIPTIONS if name.startswith(prefix)), None)


def _language(crate, name: str):
    """The ComputerLanguage of a workflow or source file (Snakemake or Python), if any."""
    from rocrate.model.computerlanguage import get_lang
    from rocrate.model.contextentity import ContextEntity

    if name.endswith(".smk"):
        existing = crate.get("https://w3id.org/workflowhub/workflow-ro-crate#snakemake")
        return existing or crate.add(get_lang(crate, "snakemake"))
    if name.endswith(".py"):
        python = crate.get(PYTHON_ID)
        if python is None:
            # pyproject.toml pins one minor version of Python (3.11), so this is deterministic.
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            props = {"@type": "ComputerLanguage", "name": "Python", "version": version}
            props["url"] = "https://www.python.org/"
            python = crate.add(ContextEntity(crate, PYTHON_ID, properties=props))
        return python
    return None


def _add_files(crate, meta: ResultsMetadata, files: Mapping[str, bytes]) -> dict:
    """Every archived file as a File data entity (the workflow's own files as source code)."""
    added = {}
    workflow = set(meta.workflow_files)
    for name in sorted(set(files) | {MANIFEST_NAME, README_NAME, CITATION_NAME} - {CRATE_NAME}):
        if name == "Snakefile":
            continue
        props: dict[str, object] = {"name": PurePosixPath(name).name}
        if name in files:
            props["contentSize"] = str(len(files[name]))
        if fmt := _format(name):
            props["encodingFormat"] = fmt
        if name in workflow:
            props["@type"] = ["File", "SoftwareSourceCode"]
            if language := _language(crate, name):
                props["programmingLanguage"] = {"@id": language.id}
        if description := _description(name, meta):
            props.setdefault("description", description)
        if name == CITATION_NAME:
            props["description"] = "How to cite these results (Citation File Format 1.2.0)."
        elif name == MANIFEST_NAME:
            props["description"] = "SHA-256 of every other file (sha256sum format)."
        added[name] = crate.add_file(dest_path=name, properties=props)
    return added


def _add_run(crate, meta: ResultsMetadata, workflow, added: dict):
    """The run: a CreateAction of the workflow, from the inputs to the results."""
    # The previous version's archive (results/archive/) is read by the report: an input.
    previous = f"{RESULTS_FOLDER}/archive/"
    inputs = [
        added[n]
        for n in sorted(added)
        if n.startswith((f"{meta.studies_dir}/", previous))
        or n in meta.config_files
        or n in meta.data_files
        or n in (EFFECTIVE_CONFIG_NAME, OVERRIDES_NAME, LOCK_NAME)
    ]
    outputs = [
        added[n]
        for n in sorted(added)
        if n.startswith(f"{RESULTS_FOLDER}/") and not n.startswith(previous)
    ]
    return crate.add_action(
        workflow,
        identifier=f"#run-{meta.version}",
        object=inputs,
        result=outputs,
        properties={
            "@type": "CreateAction",
            "name": f"stsmeta workflow run producing results {meta.version}",
            "description": f"Run of the workflow with stsmeta {meta.software_version}.",
        },
    )


def _one_or_many(entities: list) -> dict | list:
    # RO-Crate 1.3 recommends a single value over a one-item list.
    refs = [{"@id": e.id} for e in entities]
    return refs[0] if len(refs) == 1 else refs


def ro_crate_metadata(meta: ResultsMetadata, files: Mapping[str, bytes]) -> str:
    """The crate's JSON-LD text: deterministic (sorted keys, entities in a fixed order)."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    crate = ROCrate(gen_preview=False)
    root = crate.root_dataset
    root["name"] = meta.title
    root["description"] = (
        f"Results {meta.version} of the stsmeta meta-analysis, with everything that reproduces "
        "them: study files, analysis plan, workflow, package source and software lock."
    )
    root["version"] = meta.version
    root["datePublished"] = meta.date_released.isoformat()
    license_id = f"https://spdx.org/licenses/{meta.license}"
    licence = {"@type": "CreativeWork", "name": meta.license}
    crate.add(ContextEntity(crate, license_id, properties=licence))
    root["license"] = {"@id": license_id}
    if meta.doi:
        root["identifier"] = f"https://doi.org/{meta.doi}"
    if meta.repository:
        root["isBasedOn"] = {"@id": meta.repository}
    authors = _add_authors(crate, meta)
    root["author"] = _one_or_many(authors)
    software = _add_software(crate, meta)
    snakemake = next((s for s in meta.software if s.name.lower() == "snakemake"), None)
    workflow = crate.add_workflow(
        dest_path="Snakefile",
        main=True,
        lang="snakemake",
        lang_version=snakemake.version if snakemake else None,
        properties={
            "name": "stsmeta Snakemake workflow",
            "encodingFormat": "text/x-python",
            "contentSize": str(len(files.get("Snakefile", b""))),
            "softwareRequirements": {"@id": software.id},
            "author": _one_or_many(authors),
        },
    )
    added = _add_files(crate, meta, files)
    for profile_id, name, version in PROFILES:
        props = {"@type": ["CreativeWork", "Profile"], "name": name, "version": version}
        root.append_to("conformsTo", crate.add(ContextEntity(crate, profile_id, properties=props)))
    root["mentions"] = {"@id": _add_run(crate, meta, workflow, added).id}
    document = crate.metadata.generate()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
