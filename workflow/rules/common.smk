# Helpers shared by every stage: config validation, study discovery, the check of every study file
# before any job runs (so that a bad file changes no result), and the lists of outputs.

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import IOFile

import stsmeta
from stsmeta.code_digest import STAGE_CODE, package_files, stage_code_digest
from stsmeta.atomic_write import write_text_atomically
from stsmeta.archive import release_status
from stsmeta.config import (
    STAGE_FIELDS,
    attribute_overrides,
    effective_config,
    load_config,
    read_config,
)
from stsmeta.coverage.design import design_text
from stsmeta.coverage.plan import settings_from_config as coverage_settings
from stsmeta.errors import InputError
from stsmeta.evidence.model import study_to_json
from stsmeta.evidence.studyfile import normalise_file, read_study
from stsmeta.evidence.studyfile import duplicate_labels, unread_files, validate_paths
from stsmeta.keep_previous import (
    SNAPSHOT,
    Derived,
    SnapshotError,
    discard,
    left_by,
    named,
    owner_file,
    restore_missing,
    take_snapshot,
    unchanged,
)
from stsmeta.scheduler_timers import cancel_rate_limit_timers
from stsmeta.pool.extract import extract_text
from stsmeta.pool.scenarios import unknown_excluded_studies
from stsmeta.selection import selection_rule
from stsmeta.outputs import (
    PRINT_FORMATS,
    PRINT_RECORD as PRINT_RECORD_NAME,
    TABLE_NAMES,
    figure_stems,
    normalise_chunks,
)
from stsmeta.schemas import schema_path


def stop(message):
    """Refuse to run while this file is read (before any job, lock or output): the message
    alone, exit status 1. Raising WorkflowError here would print Snakemake's file and line
    trail after it, which reads like a crash and names our code, not the user's file."""
    print(message, file=sys.stderr)
    sys.exit(1)


# The configuration Snakemake merged (config.yaml, then every --configfile and --config) is checked
# once, against the package's config schema with defaults filled as snakemake.utils.validate fills
# them (tests/test_config.py checks that both agree), and for what a schema cannot express; each
# message names the field and the fix. Jobs never read config.yaml: each takes the part of this
# effective configuration that its stage reads, results/config/<stage>.json (rule config), as a
# declared input.
CONFIG_FILES = [str(p) for p in workflow.configfiles] or ["config.yaml"]
_checked_config, _config_problems = load_config(config, file=", ".join(CONFIG_FILES))
if _config_problems:
    stop(
        "\n".join(
            str(p)
            for p in attribute_overrides(
                _config_problems, workflow.config_settings.config
            )
        )
    )
config.update(_checked_config)

# Jobs run `python -m stsmeta` from the installed package (pip install -e ., or a wheel).
CONDA_ENV = "../../envs/stsmeta.yaml"

STUDIES_DIR = config.get("studies_dir", "data/raw")
RESULTS = "results"
CONFIG_STAGES = sorted(STAGE_FIELDS)
# Scheduling priority of the jobs on the path from the study files to the report (the coverage
# design, shards and summary, pooling, figures): when more jobs are ready than cores, these go
# first, so that jobs off that path (tables, the screening check) do not hold it up.
CRITICAL_PATH = 10


# The stsmeta package this run imports (a checkout's src/stsmeta or an installed wheel): the
# archive stores it under src/stsmeta/, and each rule reruns when the code its job runs changes
# (params `code`; stsmeta/code_digest.py).
PACKAGE_DIR = Path(stsmeta.__file__).parent
PACKAGE_FILES = package_files(PACKAGE_DIR)
CODE = {
    stage: stage_code_digest(PACKAGE_DIR, stage, PACKAGE_FILES) for stage in STAGE_CODE
}


def stage_config(stage):
    """The effective configuration file of one stage (a job's declared input)."""
    return f"{RESULTS}/config/{stage}.json"


OUTCOMES = sorted(config["outcomes"])
SCENARIOS = sorted(config["scenarios"])
VERSION = str(config["report"]["version"])


wildcard_constraints:
    study="[a-z0-9][a-z0-9-]*",
    outcome="[a-z0-9_]+",
    scenario="[a-z0-9_]+",


def validated_before(raw, normalised, validity_changed):
    """The normalised record if `normalised` was written from this very `raw` after the rules
    of validity last changed (then `raw` passed the same checks already: normalise writes only
    valid studies), else None.
    """
    try:
        written = normalised.stat().st_mtime
        if written <= max(raw.stat().st_mtime, validity_changed):
            return None
        record = json.loads(normalised.read_bytes())
        if record.get("source_sha256") == hashlib.sha256(raw.read_bytes()).hexdigest():
            return record
    except (OSError, ValueError, AttributeError):
        pass
    return None


def normalise_in_workflow(raws, config_file, outputs, log):
    """The normalise rules' one call: `stsmeta normalise` of each study file (one, or a chunk),
    run in Snakemake's own process.

    An invalid file (caught at start-up already, unless it changed since) fails the job with
    the same `file: field: fix` lines, also written to the log.
    """
    config = read_config(config_file)
    try:
        for raw, output in zip(raws, outputs, strict=True):
            normalise_file(raw, output, config)
    except InputError as exc:
        Path(log).write_text(f"{exc}\n", encoding="utf-8")
        raise WorkflowError(str(exc)) from None
    Path(log).write_text("", encoding="utf-8")


def write_effective(output, content, log):
    """The config rule's one call: write one stage's effective configuration."""
    write_text_atomically(output, content)
    Path(log).write_text("", encoding="utf-8")


def write_extracts(outputs, log):
    """The extract rule's one call: every study's analysis extract, from start-up."""
    for study, path in zip(STUDIES, outputs, strict=True):
        write_text_atomically(path, EXTRACT_TEXTS[study])
    Path(log).write_text("", encoding="utf-8")


def study_list_text(name):
    """A list of study files as the study_lists rule writes it, one path a line."""
    return "".join(f"{p}\n" for p in STUDY_LIST_PATHS[name])


def write_study_lists(outputs, log):
    """The study_lists rule's one call: each list of study files."""
    for name, path in outputs.items():
        write_text_atomically(path, study_list_text(name))
    Path(log).write_text("", encoding="utf-8")


def extracts_digest():
    """One checksum over every study's extract: rule extract's parameter."""
    lines = "".join(
        f"{hashlib.sha256(EXTRACT_TEXTS[s].encode()).hexdigest()}  {s}\n"
        for s in STUDIES
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def normalised_record(raw, config):
    """A valid study file's normalised record, as its normalised JSON file holds it."""
    return json.loads(study_to_json(read_study(raw, config)))


# The modules whose code decides whether a study file is valid (studyfile.py and its imports).
VALIDATING_MODULES = [
    *(
        f"evidence/{name}"
        for name in (
            "studyfile normalise normalise_common normalise_concentration normalise_outcomes"
            " normalise_patients units vocabulary model sanity"
        ).split()
    ),
    "yaml_limits",
    "text_rules",
]


def discover_studies(studies_dir):
    """Sorted study ids (file stems) of data/raw/*.yaml; every file is checked first.

    A bad study file must stop the run before any job runs. Checking all of them took most of a
    no-op run at 1,000 studies, so a file is skipped when its normalised JSON is newer than it,
    records its exact bytes (source_sha256), and is newer than everything that decides validity
    (config file, study schema, the validating code): it passed these same checks when that JSON
    was written. (`--config` overrides on the command line change flags, never validity.) Any
    other file is checked. Skipped files cannot clash with checked ones: a valid study id equals
    its file's stem, and stems in one folder differ.
    """
    paths = sorted(Path(studies_dir).glob("*.yaml"))
    unread = unread_files(studies_dir)
    if unread:
        stop(
            f"{studies_dir} holds files the workflow does not read; nothing was run:\n"
            + "\n".join(f"  {p}" for p in unread)
        )
    if not paths:
        stop(f"{studies_dir}: no study files (*.yaml) found")
    package = Path(stsmeta.__file__).parent
    rules_of_validity = [
        *map(Path, workflow.configfiles),
        schema_path("study"),
        *(package / f"{name}.py" for name in VALIDATING_MODULES),
    ]
    validity_changed = max(
        (p.stat().st_mtime for p in rules_of_validity if p.exists()),
        default=float("inf"),
    )
    records = {}
    to_check = []
    for p in paths:
        record = validated_before(
            p, Path(RESULTS, "normalised", f"{p.stem}.json"), validity_changed
        )
        if record is None:
            to_check.append(str(p))
        else:
            records[p.stem] = record
    problems = validate_paths(to_check, config=config) if to_check else []
    if problems:
        stop(
            "Invalid study files; nothing was run and no result was changed:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    # Checked just now: normalising them again is a lookup (stsmeta.evidence.studyfile).
    for raw in to_check:
        records[Path(raw).stem] = normalised_record(raw, config)
    # Labels across every study, the skipped ones too: a new file may reuse an old one's.
    problems = duplicate_labels(
        {str(p): records[p.stem].get("label") or p.stem for p in paths}
    )
    if problems:
        stop(
            "Invalid study files; nothing was run and no result was changed:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    return [p.stem for p in paths], records


def require_params_trigger():
    """The configuration files, the analysis extracts and the coverage design are rewritten when
    their content changes, which Snakemake sees through their rules' params: without that rerun
    trigger they could be stale. Refuse to run any job rather than compute from stale inputs.
    """
    triggers = {
        str(getattr(t, "name", t)).lower() for t in workflow.dag_settings.rerun_triggers
    }
    if "params" not in triggers:
        stop(
            "--rerun-triggers must include params: the workflow rewrites its configuration "
            "files, analysis extracts and coverage design when their content changes, and "
            "Snakemake sees that through params (e.g. --rerun-triggers mtime params input code)"
        )


# (The rerun triggers and the jobs to run are known only once the DAG is built, not while this
# file is read; each check stops the run with its message alone, as stop() does here, before
# any job, and Snakemake still releases its lock; each gets the rules about to run, listed once.)
# Then what a run that did not finish left missing is put back, and the snapshot that keeps the
# previous outputs if a job fails is taken (Snakemake keeps one onstart handler).
onstart:
    require_params_trigger()
    _to_run = {job.rule.name for job in workflow.dag.needrun_jobs()}
    check_screening_before_jobs(_to_run)
    check_certainty_before_jobs(_to_run)
    check_previous_archive_before_jobs(_to_run)
    check_judgements_before_jobs(_to_run)
    keep_previous_outputs(_to_run)
    offer_job_server(_to_run)


def offer_job_server(to_run):
    """onstart: this run's jobs use the server when they run on this machine, in this
    environment (not on a cluster, nor in conda environments or containers); it imports what
    the rules to run use."""
    if JOB_SERVER is None:
        return
    if workflow.local_exec and not workflow.deployment_settings.deployment_method:
        JOB_SERVER.preload(to_run)
        JOB_SERVER.offer()
    else:
        JOB_SERVER.stop()


def stop_job_server():
    """onsuccess and onerror: the run's jobs are done."""
    if JOB_SERVER is not None:
        JOB_SERVER.stop()


STUDIES, _RECORDS = discover_studies(STUDIES_DIR)
# Each study's analysis extract (stsmeta.pool.extract), from its normalised record: what pooling
# and the figures read. Computed here, in Snakemake's own process, so that rule `extract`
# rewrites the extracts only when one of them changes (params): a typo in a locator reruns the
# study's normalisation, the tables and the report, and nothing that reads only the extracts.
EXTRACT_TEXTS = {study: extract_text(_RECORDS[study]) for study in STUDIES}
_unknown_excluded = unknown_excluded_studies(config, STUDIES, ", ".join(CONFIG_FILES))
if _unknown_excluded:
    stop(
        "\n".join(
            str(p)
            for p in attribute_overrides(
                _unknown_excluded, workflow.config_settings.config
            )
        )
    )
# Each study file's SHA-256, as its record holds it (checked against the file's bytes, or
# computed from them, by discover_studies): the normalise rules' parameter, so that a file put
# back with an older time stamp (a backup restored with cp -p, tar, rsync -a) is normalised
# again; Snakemake's time stamps alone would keep the record of the content it replaced.
RAW_SHA256 = {study: _RECORDS[study]["source_sha256"] for study in STUDIES}
del _RECORDS
RAW_FILES = expand(f"{STUDIES_DIR}/{{study}}.yaml", study=STUDIES)
NORMALISED = expand(f"{RESULTS}/normalised/{{study}}.json", study=STUDIES)
# With thousands of studies, one normalise job per chunk of studies (stsmeta.outputs).
NORMALISE_CHUNKS = normalise_chunks(STUDIES)
EXTRACTS = expand(f"{RESULTS}/extract/{{study}}.json", study=STUDIES)
# The same lists as files, one path a line, for the commands that read every study: `stsmeta
# ... @FILE` reads its arguments from FILE, as 10,000 paths exceed a shell command's 128 KiB.
STUDY_LISTS = {
    "normalised": f"{RESULTS}/lists/normalised.txt",
    "extract": f"{RESULTS}/lists/extract.txt",
}
STUDY_LIST_PATHS = {"normalised": NORMALISED, "extract": EXTRACTS}
# Screening records (PRISMA 2020 flow): checked against the study files by rule screening. The
# file the review names (review.screening_records), which the figures and report read too, else
# the usual place.
_NAMED_SCREENING = (config.get("review") or {}).get("screening_records")
if _NAMED_SCREENING and not Path(_NAMED_SCREENING).is_file():
    stop(
        f"config.yaml: review.screening_records: {_NAMED_SCREENING} not found; the screening "
        "check and the PRISMA flow read it: create it, or name the file that holds the "
        "screening records; nothing was run"
    )
SCREENING_FILE = str(_NAMED_SCREENING or "data/screening/screening.yaml")
SCREENING_OUTPUTS = [
    f"{RESULTS}/tables/prisma_flow.json",
    f"{RESULTS}/tables/screening.csv",
]


def check_screening_before_jobs(to_run):
    """The screening records against the study files, before any job runs, when rule screening
    is to run (a study added, removed or gaining counts; the records edited): a study without a
    record, or a flow that does not add up, stops the run here rather than at rule screening
    after the studies were normalised. Snakemake's own rerun decision says when, so an
    unchanged evidence base costs nothing at start-up."""
    from stsmeta.evidence.screening import screening_problems

    if "screening" not in to_run:
        return
    with_counts = {
        s: bool(json.loads(EXTRACT_TEXTS[s]).get("outcomes")) for s in STUDIES
    }
    problems = screening_problems(SCREENING_FILE, with_counts)
    if problems:
        stop(
            "The screening records do not match the study files; nothing was run and no "
            "result was changed:\n" + "\n".join(f"  {p}" for p in problems)
        )


def check_certainty_before_jobs(to_run):
    """The certainty judgements (review.certainty) against the plan's outcomes, before any job
    runs, when the report is to run: an outcome dropped from config.yaml that the file still
    judges stops the run here, not at the report after pooling and the figures reran."""
    from stsmeta.presentation.inputs import InputFiles
    from stsmeta.report.certainty import load_certainty

    path = (config.get("review") or {}).get("certainty")
    if not path or not Path(path).is_file():
        return  # review_file notes it; the report says what is not recorded
    if "report" not in to_run:
        return
    try:
        load_certainty(path, InputFiles(), list(config["outcomes"]))
    except InputError as exc:
        stop(
            "The certainty judgements do not match the analysis plan; nothing was run and no "
            "result was changed:\n" + "\n".join(f"  {p}" for p in exc.problems)
        )


TABLES = expand(
    f"{RESULTS}/tables/{{table}}.csv",
    table=TABLE_NAMES,
)
POOLED = expand(
    f"{RESULTS}/pool/{{outcome}}/{{scenario}}.json",
    outcome=OUTCOMES,
    scenario=SCENARIOS,
)
FIGURE_STEMS = figure_stems(OUTCOMES)
# Jobs whose outputs are kept by what decides them (stsmeta.result_cache; safe to delete).
RESULT_CACHE = {stage: f"{RESULTS}/cache/{stage}" for stage in ("pool", "figures")}
# The default target's figures are SVG; PNG and PDF are drawn on request and for the archive
# (rule figures_print; stsmeta.outputs says why), the coverage heat map's included.
FIGURES = expand(f"{RESULTS}/figures/{{stem}}.svg", stem=FIGURE_STEMS)
PRINT_FIGURES = expand(
    f"{RESULTS}/figures/{{stem}}.{{ext}}",
    stem=[*FIGURE_STEMS, "coverage"],
    ext=PRINT_FORMATS,
)
PRINT_RECORD = f"{RESULTS}/figures/{PRINT_RECORD_NAME}"
try:
    COVERAGE = coverage_settings(config, CONFIG_FILES[0])
except InputError as exc:
    stop(f"Invalid coverage settings:\n{exc}")
# The design the coverage study simulates (k and each study's n in the primary analysis), from
# the extracts: rule coverage_design rewrites it only when it changes, and only then do the
# coverage shards rerun (never for a new label, a new locator or another outcome's counts).
try:
    COVERAGE_DESIGN_TEXT = design_text(
        [json.loads(EXTRACT_TEXTS[s]) for s in STUDIES],
        config,
        COVERAGE.outcome,
        COVERAGE.scenario,
        CONFIG_FILES[0],
    )
except InputError as exc:
    stop(f"The coverage study's design:\n{exc}")
COVERAGE_DESIGN = f"{RESULTS}/coverage/design.json"


def analysis_will_rerun():
    """Cheap signs, before the DAG is built, that the analysis will run again: a study added or
    removed, or a new design for the coverage study (the job server then imports what those jobs
    use while the DAG is built; onstart asks for the rest, once the jobs are known)."""
    # The files the last run wrote for these (the design, the list of extracts), not a listing
    # of results/.
    try:
        design = Path(COVERAGE_DESIGN).read_text(encoding="utf-8")
        extracts = Path(STUDY_LISTS["extract"]).read_text(encoding="utf-8")
    except OSError:
        return True
    return design != COVERAGE_DESIGN_TEXT or extracts != study_list_text("extract")


if JOB_SERVER is not None and analysis_will_rerun():
    JOB_SERVER.preload(["coverage_shard", "pool", "figures", "report"])
# Pooling depends on the coverage summary when the plan's rule chooses the primary method
# (config methods.selection: coverage); the study depends only on the design, not on pooling.
PRIMARY_SELECTION = (
    [f"{RESULTS}/coverage/summary.json"] if selection_rule(config) == "coverage" else []
)
COVERAGE_SHARDS = [
    f"{RESULTS}/coverage/shards/{family}/{shard}.csv"
    for family in COVERAGE.families()
    for shard in range(COVERAGE.shards)
]
# The workflow's own files are found from its base directory, so that every target works from
# any working directory.
BASE = Path(workflow.basedir)


def figure_output(stem):
    """A figure's SVG, which also goes into `snakemake --report` with its caption."""
    path = f"{RESULTS}/figures/{stem}.svg"
    kind = "risk_of_bias" if stem == "risk_of_bias" else stem.split("_", 1)[0]
    return report(
        path,
        caption=f"../report/{kind}.rst",
        category="Figures",
        labels={"figure": stem.replace("_", " ")},
    )


def coverage_figures():
    return [figure_output("coverage")]


def table_output(path):
    """A table; those with a caption also go into `snakemake --report`."""
    name = Path(path).stem
    if not Path(BASE, "workflow", "report", f"{name}.rst").exists():
        return path
    return report(path, caption=f"../report/{name}.rst", category="Tables")


def remove_stale_results(log):
    """Delete normalised studies, pooled results and figures that no current input produces,
    and the result cache."""
    current = {
        *map(str, map(Path, NORMALISED + EXTRACTS + POOLED + FIGURES + PRINT_FIGURES)),
        str(Path(PRINT_RECORD)),
        *(str(Path(f)) for f in COVERAGE_SHARDS),
    }
    patterns = [
        "normalised/*.json",
        "extract/*.json",
        "pool/*/*.json",
        "figures/*.*",
        "coverage/shards/*/*.csv",
    ]
    removed = [
        path
        for pattern in patterns
        for path in sorted(Path(RESULTS).glob(pattern))
        if str(path) not in current and not path.name.startswith("coverage.")
    ]
    for path in removed:
        path.unlink()
    # The result cache keeps earlier states' pooled results and figures, which name studies no
    # longer in the review: emptied too (the next run computes).
    for folder in RESULT_CACHE.values():
        if Path(folder).is_dir():
            shutil.rmtree(folder)
            removed.append(Path(folder))
    Path(log).write_text("".join(f"removed {p}\n" for p in removed), encoding="utf-8")


def parent_dir(path, levels=1):
    """The folder `levels` up from a file, for commands that take a directory."""
    return str(Path(path).parents[levels - 1])


def all_outputs():
    return [
        *(stage_config(stage) for stage in CONFIG_STAGES),
        *NORMALISED,
        *TABLES,
        *SCREENING_OUTPUTS,
        *POOLED,
        *FIGURES,
        f"{RESULTS}/coverage/summary.csv",
        f"{RESULTS}/report.html",
        f"{RESULTS}/report.md",
        # Kept current with the studies, so that no file names a removed study (archive.smk).
        f"{RESULTS}/lists/archive.txt",
    ]


# A job that fails after validation must not leave the user without the previous results (a
# failed figures job used to leave no figures), nor may a run cut short leave a file made from
# an earlier version looking current: see stsmeta/keep_previous.py. The snapshot is taken in
# the onstart handler above; onsuccess (Snakefile) and onerror end it.
def outputs_of_jobs_to_run():
    return [str(f) for job in workflow.dag.needrun_jobs() for f in job.output]


# Files made on request from outputs of the default target: the figures' PNG and PDF (and their
# record) from the SVGs of rule figures, the report's PDF from rule report's HTML. Set aside
# before a run whose jobs rewrite what they are made from, put back only when that is unchanged.
FIGURES_DIR = Path(RESULTS, "figures")
REPORT_HTML = Path(RESULTS, "report.html")
REPORT_PDF = Path(RESULTS, "report.pdf")


def is_print_file(path):
    """A PNG or PDF figure, or their record (any figure, drawn now or not: orphans too)."""
    return path.parent == FIGURES_DIR and (
        path.suffix in (".png", ".pdf") or path.name == PRINT_RECORD_NAME
    )


def prints_vouched(store):
    """Whether the record set aside with the PNG and PDF figures vouches for them now."""
    from stsmeta.figures.print_state import stamp, vouches

    return vouches(store / PRINT_RECORD, lambda: stamp(CODE["figures"]))


def report_pdf_vouched(store):
    """Whether the report's PDF kept in the snapshot still matches the report: the same bytes
    of report.html when a job of the run rewrote it (it is in the snapshot), else, as
    settle_pdf judges it, a PDF printed after report.html (a failed `snakemake pdf` whose
    report was not remade: the PDF it deleted to print again is the current report's).
    """
    from stsmeta.report.pdf import printed_after

    if (store / REPORT_HTML).is_file():
        return unchanged(REPORT_HTML, store)
    return REPORT_HTML.is_file() and printed_after(store / REPORT_PDF, REPORT_HTML)


DERIVED = (
    Derived(owns=is_print_file, vouched=prints_vouched),
    Derived(owns=lambda path: path == REPORT_PDF, vouched=report_pdf_vouched),
)


def set_aside_for(to_run):
    """The derived files of the jobs about to run (they rewrite what those are made from)."""
    files = []
    if "figures" in to_run and FIGURES_DIR.is_dir():
        files += sorted(p for p in FIGURES_DIR.iterdir() if is_print_file(p))
    if "report" in to_run:
        files.append(REPORT_PDF)
    return files


def forget_job_records(paths):
    """Snakemake's records (and incomplete marks) of files put back: a record of the failed or
    killed job would be taken as proof that the file is up to date."""
    for path in paths:
        workflow.persistence.cleanup_metadata(IOFile(str(path)))


def could_not_put_back(done, then):
    """The sentence naming each file that could not be put back, why, and what to do."""
    waiting = (
        f", and {len(done.deferred)} file(s) made from outputs (PNG and PDF figures, the "
        "report's PDF) wait with them"
        if done.deferred
        else ""
    )
    return (
        f"stsmeta: the previous version of {len(done.failed)} output(s) could not be put "
        f"back: {named(done.failed)}. They are kept in {SNAPSHOT}/{waiting}; free space on "
        f"the disk that holds {RESULTS}/ (or mend what the reason says), then {then}"
    )


def keep_previous_outputs(to_run):
    """onstart: put back what a run that did not finish left missing (as onerror would have),
    then take this run's snapshot, setting aside the derived files of the jobs to run.
    """
    state, mark = left_by()
    if state == "running":
        stop(
            f"Another Snakemake run ({mark}: host, process) is writing {RESULTS}/ in this "
            "folder (its lock was removed, or --nolock was given): wait for it to end, then "
            "run again; nothing was run. If no such run is going on (the process id was "
            f"reused), remove {owner_file(SNAPSHOT)}"
        )
    if state == "unfinished":
        done = restore_missing(derived=DERIVED)
        forget_job_records(done.restored + done.put_back)
        if done.restored:
            print(
                "stsmeta: the last run did not end cleanly (killed, cut short, or it could "
                f"not put them back itself): the previous version of {len(done.restored)} "
                "output(s) was put back, marked out of date (a run of the target that makes "
                "them rebuilds them; `snakemake --cores 4 clean_stale` removes those the plan "
                "no longer makes), e.g. " + ", ".join(map(str, done.restored[:3])),
                file=sys.stderr,
            )
        if done.put_back:
            print(
                f"stsmeta: {len(done.put_back)} file(s) made on request (PNG and PDF figures, "
                "the report's PDF) that the last run had set aside were put back: they match "
                "the figures and the report put back with them",
                file=sys.stderr,
            )
        if done.withheld:
            print(
                f"stsmeta: {len(done.withheld)} file(s) made on request before the last run "
                "(PNG and PDF figures, the report's PDF) were not put back: what they were "
                "made from has changed since (`snakemake --cores 4 publication` makes them "
                "again)",
                file=sys.stderr,
            )
        if done.failed:
            stop(could_not_put_back(done, "run again (nothing was run)"))
    try:
        take_snapshot(
            outputs_of_jobs_to_run(), RESULTS, set_aside=set_aside_for(to_run)
        )
    except SnapshotError as exc:
        stop(
            f"The previous results could not be kept before the run (a job that failed would "
            f"lose them): {exc}. Free space on the disk that holds .snakemake/ (or mend what "
            "the reason says) and run again; nothing was run"
        )


def end_of_run(succeeded):
    """onsuccess and onerror: put back what the snapshot keeps (on success, only the derived
    files), say what could not be, settle the PDF and figures, and drop the snapshot. Never
    raises: a failure is said, and the snapshot is then kept for the next start."""
    done = None
    try:
        done = restore_missing(derived=DERIVED, only_derived=succeeded)
        # After a success only derived files came back, made by no job of this run: their
        # records stand.
        if not succeeded:
            forget_job_records(done.restored + done.put_back)
        if done.restored:
            print(
                "stsmeta: the run did not finish (a job failed, or it was interrupted); the "
                f"previous version of {len(done.restored)} output(s)"
                " was put back (out of date: the next run rebuilds them), e.g. "
                + ", ".join(map(str, done.restored[:3])),
                file=sys.stderr,
            )
        if done.failed:
            print(
                could_not_put_back(
                    done, "run `snakemake --cores 4` again: it puts them back first"
                ),
                file=sys.stderr,
            )
    except Exception as exc:
        print(
            f"stsmeta: the previous outputs could not all be put back ({exc}); they are kept "
            f"in {SNAPSHOT}/, and the next `snakemake --cores 4` puts them back first",
            file=sys.stderr,
        )
    withheld = done.withheld if done is not None else []
    deferred = done.deferred if done is not None else []
    # The report may have been rebuilt before a failure (e.g. an archive that refuses): a PDF of
    # the earlier report must not stay beside it, nor PNG and PDF figures beside redrawn SVGs.
    # (Those kept in the snapshot for the next start are said above.)
    try:
        if REPORT_HTML.is_file() and REPORT_PDF not in deferred:
            print_pdf_state(withheld=REPORT_PDF in withheld)
    except Exception as exc:
        print(f"stsmeta: {exc}", file=sys.stderr)
    try:
        if not any(map(is_print_file, deferred)):
            print_figures_state(
                withheld=sum(
                    is_print_file(p) and p.name != PRINT_RECORD_NAME for p in withheld
                )
            )
    except Exception as exc:
        print(f"stsmeta: {exc}", file=sys.stderr)
    if done is not None and not done.failed:
        try:
            discard()
        except OSError as exc:
            print(f"stsmeta: {SNAPSHOT}: {exc}", file=sys.stderr)


onerror:
    cancel_rate_limit_timers()
    stop_job_server()
    try:
        end_of_run(succeeded=False)
    except KeyboardInterrupt:
        print(
            "stsmeta: interrupted while putting back the previous outputs; the next "
            "`snakemake --cores 4` finishes it",
            file=sys.stderr,
        )
        sys.exit(130)


# Files of the review process named in config.yaml (review.screening_records, review.certainty),
# used by the figures and report rules. Optional: a file that is named but absent is reported at
# start-up, and the report says in its text what is then not recorded (never a silent gap).
REVIEW = config.get("review") or {}
_NOTED = set()  # each missing file is noted once, not once per rule


def review_file(key):
    """[path] of review.<key> in config.yaml; [] (with a note) when unset or absent."""
    path = REVIEW.get(key)
    if not path:
        return []
    if not Path(path).is_file():
        if key in _NOTED:
            return []
        _NOTED.add(key)
        print(
            f"NOTE: config.yaml: review.{key}: {path} not found; the report will say it is "
            "not recorded (create the file, or remove the key).",
            file=sys.stderr,
        )
        return []
    return [path]


def option(flag, paths):
    """`--flag path` for an optional input, or nothing."""
    return f"{flag} {paths[0]}" if paths else ""


def report_pdf_target():
    """results/report.pdf when a Chromium is installed; else a clear word, and no PDF."""
    from stsmeta.report.pdf import BROWSERS, find_chromium

    if find_chromium() is None:
        print(
            "NOTE: no Chromium found ("
            + ", ".join(BROWSERS)
            + ", or $STSMETA_CHROMIUM): "
            "results/report.pdf will not be made. Install Debian's `chromium` "
            "(apt-get install chromium) for the PDF; results/report.html is complete.",
            file=sys.stderr,
        )
        return []
    return [f"{RESULTS}/report.pdf"]


def print_figures_state(withheld=0):
    """After a run: where the PNG and PDF figures are, or how to draw them (stale ones are
    removed; ``withheld``: set aside and not put back, as stale)."""
    from stsmeta.figures.print_state import settle, stamp

    said = settle(
        PRINT_RECORD,
        PRINT_FIGURES,
        lambda: stamp(CODE["figures"]),
        folder=Path(RESULTS, "figures"),
        withheld=withheld,
    )
    print(f"stsmeta: {said}")


def print_pdf_state(withheld=False):
    """After a run: where the PDF is, or how to print it (a stale one is removed; ``withheld``:
    set aside and not put back, as stale)."""
    from stsmeta.report.pdf import settle_pdf

    said = settle_pdf(
        Path(RESULTS, "report.html"), Path(RESULTS, "report.pdf"), withheld=withheld
    )
    print(f"stsmeta: {said}")


# `snakemake --report results/report.html` would overwrite our report with Snakemake's own:
# refuse, and name the file to use instead (README: results/snakemake-report.zip).
def snakemake_report_target(argv):
    for i, arg in enumerate(argv):
        if arg.startswith("--report="):
            return arg.split("=", 1)[1]
        if arg == "--report" and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            return argv[i + 1]
    return None


_SNAKEMAKE_REPORT = snakemake_report_target(sys.argv)
if _SNAKEMAKE_REPORT and Path(_SNAKEMAKE_REPORT).resolve() in {
    Path(RESULTS, name).resolve() for name in ("report.html", "report.md", "report.pdf")
}:
    stop(
        f"--report {_SNAKEMAKE_REPORT} would overwrite the stsmeta report; write Snakemake's "
        "report elsewhere: snakemake --report results/snakemake-report.zip"
    )


# The published archives the report relies on, from their record (archives.lock, next to
# config.yaml and data/ in the working directory: commit it), verified before any job runs: a
# corrupt or missing one stops the run and changes nothing. RELEASE.previous: the version to
# compare with; RELEASE.label: "<version>" or "<version>+unreleased changes" when the inputs
# (study files, configuration, review files) differ from the published <version>, and then
# RELEASE.compare_with is that published archive, so that the report lists those changes.
ARCHIVE_LOCK = Path("archives.lock")
# The other data files the report reads, archived with the study files.
REVIEW_DATA_FILES = [*review_file("screening_records"), *review_file("certainty")]
try:
    RELEASE = release_status(
        ARCHIVE_LOCK,
        Path(RESULTS) / "archive",
        VERSION,
        # Each study file by its SHA-256 from the start-up check: not read again.
        {f"{study}.yaml": RAW_SHA256[study] for study in STUDIES},
        json.loads(effective_config(config, "archive"))["config"],
        {Path(p).as_posix(): Path(p).read_bytes() for p in REVIEW_DATA_FILES},
    )
except InputError as exc:
    stop(f"Published results archives:\n{exc}")
PREVIOUS_ARCHIVE = RELEASE.previous
if RELEASE.previous_unavailable:
    print(
        f"NOTE: archives.lock lists version {RELEASE.previous_unavailable} as published, but its "
        f"archive is not in {RESULTS}/archive/: the report will not list the changes since it.",
        file=sys.stderr,
    )


def check_previous_archive_before_jobs(to_run):
    """No archive is packed without the previous version's (archives.lock lists it): its report
    would not list the changes since that version, and the same commit and data would give two
    different archives under one version number, by what happens to be in results/archive/.
    """
    if "archive" not in to_run:
        return
    if RELEASE.changes:
        # Known now: the archive job would refuse it only after every other job had rewritten
        # the results.
        stop(
            f"config.yaml: report.version: {VERSION} is published (archives.lock), and the "
            f"inputs changed since ({'; '.join(RELEASE.changes[:3])}"
            f"{'; ...' if len(RELEASE.changes) > 3 else ''}): a version is archived once; "
            "bump report.version (e.g. to the next patch number) and run again; nothing was run"
        )
    if not RELEASE.previous_unavailable:
        return
    name = f"stsmeta-results-{RELEASE.previous_unavailable}.tar.gz"
    stop(
        f"archives.lock lists version {RELEASE.previous_unavailable} as published, but "
        f"{RESULTS}/archive/{name} is not here: an archive made without it would not list the "
        f"changes since that version. Put the published {name} (from where it was deposited) "
        f"in {RESULTS}/archive/ and rerun; nothing was run"
    )


def check_judgements_before_jobs(to_run):
    """No archive of a certainty judgement (review.certainty) made on other study data or plan
    settings than this version's results: known at start-up, from the extracts' checksums and
    the pooling jobs' configuration, by the computation the pooling job records
    (pool.analysis.expected_judged_sha256). The archive job refused it only after every other
    job had rebuilt the results from the new data. An ordinary run still builds the report,
    which marks the judgement 'to be checked again': the author re-checks it there.
    """
    from stsmeta.pool.analysis import expected_judged_sha256, study_checksums
    from stsmeta.presentation.certainty import certainty_outcomes, stale_judgements

    path = (config.get("review") or {}).get("certainty")
    if "archive" not in to_run or not path or not Path(path).is_file():
        return
    outcomes = certainty_outcomes(Path(path).read_bytes())
    judged = [o for o in OUTCOMES if isinstance(outcomes.get(o), dict)]
    if not judged:
        return
    pool_config = json.loads(effective_config(config, "pool"))["config"]
    # The primary method the coverage study selected, when its summary is current; while the
    # study is still to run, every method it can select (a stale judgement matches none).
    summary = None
    summary_file = Path(RESULTS, "coverage", "summary.json")
    if "coverage_summary" not in to_run and summary_file.is_file():
        try:
            summary = json.loads(summary_file.read_bytes())
        except ValueError:
            summary = None
    # As the pooling job reads them: each study's extract (rule extract writes these texts).
    checksums = study_checksums(json.loads(EXTRACT_TEXTS[study]) for study in STUDIES)
    expected = {
        outcome: expected_judged_sha256(
            checksums, pool_config, outcome, summary, stage_config("pool")
        )
        for outcome in judged
    }
    problems = stale_judgements(str(path), outcomes, expected)
    if problems:
        stop(
            "Certainty judgements made on other study data or plan settings than this "
            "version's results are not archived; nothing was run and no result was changed. "
            "Build this version's results and report without the archive target "
            "(snakemake --cores 4): the report marks each judgement 'to be checked again'. "
            "Re-check it there, set judged_on as below, and run the archive target again:\n"
            + "\n".join(f"  {p}" for p in problems)
        )


# When this run packed the archive: where it is, how to check it, what to commit (the archive
# job's own lines go to its log, which nobody reads after a success).
_RUN_STARTED = time.time()


def print_archive_outcome():
    log = Path(RESULTS, "logs", "archive.log")
    if not log.is_file() or log.stat().st_mtime < _RUN_STARTED:
        return
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    outcome = next(
        (
            l
            for l in reversed(lines)
            if l.startswith(("published ", f"{RESULTS}/archive/"))
        ),
        None,
    )
    if outcome is None:
        return
    published = Path(RESULTS, "archive", f"stsmeta-results-{VERSION}.tar.gz")
    print(f"stsmeta: {outcome}")
    print(
        f"stsmeta: check it with `stsmeta verify-archive {published}`, commit "
        f"{ARCHIVE_LOCK}, and cite {published.name} (README: How to cite)"
    )
