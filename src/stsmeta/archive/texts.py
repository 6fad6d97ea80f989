"""The archive's text files: CITATION.cff, README.md, MANIFEST.sha256 and, when the run had
command-line overrides, config.overrides.yaml."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping

import yaml

from stsmeta.archive.layout import (
    ARCHIVE_PREFIX,
    EFFECTIVE_CONFIG_NAME,
    OVERRIDES_NAME,
    RESULTS_FOLDER,
    archive_name,
)
from stsmeta.archive.metadata import NOT_A_GIT_CHECKOUT, ResultsMetadata, author_name

DOI_PLACEHOLDER = (
    "# doi: fill in the DOI the data repository assigns on deposit (report.doi in config.yaml)\n"
)
REPOSITORY_PLACEHOLDER = (
    "# repository-code: fill in the URL of the public repository (report.repository)\n"
)


def _yaml(data: object) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )


def citation_cff(meta: ResultsMetadata) -> str:
    """CITATION.cff (CFF 1.2.0) for these results, a dataset citing the software."""
    cff: dict[str, object] = {
        "cff-version": "1.2.0",
        "message": "If you use these results, please cite them as below.",
        "type": "dataset",
        "title": meta.title,
        "version": meta.version,
        "date-released": meta.date_released.isoformat(),
        "authors": [dict(a) for a in meta.authors],
        "license": meta.license,
    }
    if meta.doi:
        cff["doi"] = meta.doi
    if meta.repository:
        cff["repository-code"] = meta.repository
    software: dict[str, object] = {
        "type": "software",
        "title": "stsmeta",
        "version": meta.software_version,
        "authors": [{"name": "stsmeta contributors"}],
    }
    if meta.repository:
        software["repository-code"] = meta.repository
    if meta.source_version == NOT_A_GIT_CHECKOUT:
        software["notes"] = (
            "Built from a copy that is not a git checkout; the source is in this archive (src/)."
        )
    else:
        software["commit"] = meta.source_version
    cff["references"] = [software]
    placeholders = ("" if meta.doi else DOI_PLACEHOLDER) + (
        "" if meta.repository else REPOSITORY_PLACEHOLDER
    )
    return placeholders + _yaml(cff)


def overrides_text(meta: ResultsMetadata) -> str:
    """config.overrides.yaml: the run's command-line overrides, as a file Snakemake reads."""
    header = (
        f"# The command-line overrides (snakemake --config) of the run that computed results "
        f"{meta.version},\n"
        f"# with the values that run computed with, as {EFFECTIVE_CONFIG_NAME} records them. "
        "The rerun\n"
        "# command in README.md passes this file with --configfile, after the other "
        "configuration files,\n"
        "# as --config came after them.\n"
    )
    return header + _yaml(dict(meta.overrides))


def markdown_text(text: str) -> str:
    """Untrusted text as inert Markdown: HTML escaped, Markdown punctuation backslashed."""
    flat = " ".join(str(text).split())
    escaped = html.escape(flat, quote=True)
    # Characters that open emphasis, code, links, images, tables or strikethrough anywhere.
    return re.sub(r"([\\`*_\[\]()!|~])", r"\\\1", escaped)


def _contents_table(meta: ResultsMetadata, files: Mapping[str, bytes]) -> list[str]:
    envs = sorted(n for n in files if n.startswith("envs/"))
    configs = ", ".join(f"`{c}`" for c in meta.config_files) or "`config.yaml`"
    return [
        "| path | what it is |",
        "| --- | --- |",
        f"| `{RESULTS_FOLDER}/report.html`, `{RESULTS_FOLDER}/report.md` | the report |",
        f"| `{RESULTS_FOLDER}/figures/`, `{RESULTS_FOLDER}/tables/` | figures and tables (CSV) |",
        f"| `{RESULTS_FOLDER}/pool/` | pooled estimates, one JSON per outcome and scenario |",
        f"| `{RESULTS_FOLDER}/normalised/` | the normalised study files the analysis read |",
        f"| `{meta.studies_dir}/` | the study files as extracted from the publications |",
        f"| {configs}, `{EFFECTIVE_CONFIG_NAME}` | the analysis plan, and what the run computed "
        "with after every override |",
        *(
            [
                f"| `{OVERRIDES_NAME}` | the run's command-line overrides (`snakemake --config`), "
                "for the rerun |"
            ]
            if meta.overrides
            else []
        ),
        "| `Snakefile`, `workflow/`, `profiles/` | the Snakemake workflow |",
        "| `src/`, `pyproject.toml` | the stsmeta package that computed the results |",
        "| " + ", ".join(f"`{e}`" for e in envs) + " | the exact software versions |",
        "| `CITATION.cff` | how to cite these results |",
        "| `ro-crate-metadata.json` | Workflow Run RO-Crate metadata of this run |",
        "| `MANIFEST.sha256` | SHA-256 of every other file |",
    ]


def readme_text(meta: ResultsMetadata, files: Mapping[str, bytes]) -> str:
    """README.md of the archive: what is in it, how to verify it, how to rerun it from itself."""
    top = f"{ARCHIVE_PREFIX}{meta.version}"
    name = archive_name(meta.version)
    source = (
        "a copy that was not a git checkout"
        if meta.source_version == NOT_A_GIT_CHECKOUT
        else f"git commit `{markdown_text(meta.source_version)}`"
    )
    # Snakemake reads config.yaml itself (the Snakefile's configfile), then each --configfile in
    # order: the run's other files in its order, then its --config overrides, which came last.
    extra_configs = [c for c in meta.config_files if c != "config.yaml"]
    extra_configs += [OVERRIDES_NAME] if meta.overrides else []
    configfile = "".join(f" --configfile {c}" for c in extra_configs)
    authors = "; ".join(markdown_text(author_name(a)) for a in meta.authors)
    lines = [
        f"# {markdown_text(meta.title)}",
        "",
        f"Results version {meta.version}, released {meta.date_released.isoformat()} "
        f"(date from {markdown_text(meta.date_source)}), by {authors}. "
        f"Licence: {markdown_text(meta.license)}. Cite them with `CITATION.cff`.",
        "",
        f"Computed by stsmeta {meta.software_version} from {source}.",
        "",
        "## Contents",
        "",
        *_contents_table(meta, files),
        "",
        "## Verify",
        "",
        "In the repository that published it, `stsmeta verify-archive` checks every file and "
        "the record of published archives (`archives.lock`); elsewhere, check the files alone:",
        "",
        "```",
        f"stsmeta verify-archive {name}",
        f"stsmeta verify-archive --manifest-only {name}",
        "```",
        "",
        "or, without stsmeta:",
        "",
        "```",
        f"tar -xzf {name} && cd {top} && sha256sum -c MANIFEST.sha256",
        "```",
        "",
        "## Rerun from this archive alone",
        "",
        "Everything the run read is here. With Python 3.11:",
        "",
        "```",
        f"tar -xzf {name} && cd {top}",
        "python3.11 -m venv .venv && . .venv/bin/activate",
        "pip install -r envs/requirements.lock && pip install --no-deps .",
        f"snakemake --cores 4 --forceall all figures_print{configfile}",
        f"grep '  {RESULTS_FOLDER}/' MANIFEST.sha256 | sha256sum -c -",
        "```",
        "",
        "`--forceall` rebuilds every result over the archived one (`all`, the default target, "
        "and `figures_print`, the figures as PNG and PDF; `results/archive/`, if present, holds "
        "the previous version that the report compares with); the last command "
        f"checks that every rebuilt file in `{RESULTS_FOLDER}/` is byte-identical to the "
        "archived one.",
        "",
        *_overrides_note(meta),
    ]
    return "\n".join(lines)


def _overrides_note(meta: ResultsMetadata) -> list[str]:
    if not meta.overrides:
        return []
    # A field name as code when it is a plain name; anything else as inert text.
    fields = ", ".join(
        f"`{k}`" if re.fullmatch(r"[A-Za-z0-9_.-]+", k) else markdown_text(k)
        for k in meta.overrides
    )
    return [
        "The run that computed these results was given command-line overrides "
        f"(`snakemake --config`) of {fields}. `{OVERRIDES_NAME}` holds the values it computed "
        f"with (as `{EFFECTIVE_CONFIG_NAME}` records them), and the rerun command passes it; "
        "without it, the rerun computes with the configuration files alone and its results "
        "do not match these.",
        "",
    ]


def manifest_text(files: Mapping[str, bytes]) -> str:
    """``sha256sum`` output over ``files``, sorted by name."""
    return "".join(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files))
