"""The living-review loop (issue 16): each measure next to its floor, measured in the same run.

    python benchmarks/bench_loop.py [--cores 2] [--scale 1000 10000] [--skip-glmm]

Prints, for the shipped studies, in a temporary copy of the repository, the median of --runs
runs of each measure (and each run):

- cold run of the default target, against a Snakemake DAG of the same shape whose jobs only
  `touch` their outputs (cold too);
- a typo fixed in one study's free text (a locator), against Snakemake's own no-op on that
  DAG, with the jobs that reran;
- one study added that enters the primary analysis (a SYNTHETIC study of the tests), every
  cache emptied first (the coverage study's shards, the pooled results and figures: all
  computed), then removed and added again: seen before, the shards, pooled results and
  figures are copied from their caches, not computed;
- the no-op itself;
- per job kind, interpreter start-up and every import of the job, run as the workflow runs it
  in the finished project (``python -X importtime``): pooling, coverage shards and figures
  without ``--cache`` (computing), and with it (a hit, as in the finished project);
- one GLMM fit (k = 6, Wald CI), one at a time, against metafor's ``rma.glmm`` per fit in one
  R process (skipped without Rscript).

With ``--scale N``: N SYNTHETIC studies (copies of the shipped files with new ids and labels,
as benchmarks/bench_scale.py writes them), cold, against the same work done in one Python
process (every job's command called in turn, no Snakemake), with time and peak memory.

Ratios are the targets of issue 16 (cold <= 2x, typo <= 2x no-op, add <= 4x no-op, 1,000
studies <= 1.5x the one-process floor, start-up <= 0.3 s, GLMM >= 50x rma.glmm). Timings on a
shared machine are noisy: every run is taken right after a run of its floor, and each verdict
is on the median of those paired ratios. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import (  # noqa: E402
    IGNORE,
    REPO,
    baseline_project,
    compile_package,
    measure,
    measure_all,
    median_wall,
    slurm_stall,
    synthetic_base,
    templates,
)

sys.path.insert(0, str(REPO / "tests"))
from screening_helpers import screening_follows  # noqa: E402

SYNTHETIC_STUDY = REPO / "tests" / "fixtures" / "studies" / "synthetic-2020.yaml"
TYPO_STUDY = "smith-2013.yaml"


def copy_repo(dest: Path) -> Path:
    shutil.copytree(REPO, dest, ignore=IGNORE)
    return dest


def jobs_to_run(project: Path, cores: int) -> str:
    """The job table of a dry run: which rules would run, and how many jobs each."""
    out = subprocess.run(
        ["snakemake", "--cores", str(cores), "--dry-run", "--quiet", "rules"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # Snakemake prints the table twice (plan and summary): the first one, up to its total.
    first = out.split("\ntotal", 1)[0]
    rows = re.findall(r"^(\w+)\s+(\d+)$", first, flags=re.M)
    return ", ".join(f"{rule} {n}" for rule, n in rows if rule != "all") or "none"


def fix_typo(raw: Path, mark: str) -> None:
    """Change the first locator's text (free text no analysis reads)."""
    text = raw.read_text(encoding="utf-8")
    new, count = re.subn(r"(?m)^(\s*locator: )(.+)$", rf"\1\2 ({mark})", text, count=1)
    assert count == 1, f"{raw}: no locator"
    raw.write_text(new, encoding="utf-8")


def ratio_line(label: str, value: float, floor: float, floor_label: str, target: float) -> str:
    ok = "meets" if value <= target * floor else "MISSES"
    return (
        f"{label:<44} {value:7.2f} s  floor {floor:6.2f} s ({floor_label})  "
        f"ratio {value / floor:5.2f}  target <= {target:g}: {ok}"
    )


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def paired_lines(
    label: str, values: list[float], floors: list[float], floor_label: str, target: float
) -> str:
    """A measure whose every run was taken right after a floor run: the verdict on the median of
    the paired ratios (the machine's speed drifts by a fifth within an hour, and a ratio of two
    runs a minute apart carries less of that drift than a ratio of medians minutes apart)."""
    ratios = [v / f for v, f in zip(values, floors, strict=True)]
    ratio = median(ratios)
    ok = "meets" if ratio <= target else "MISSES"
    return (
        f"{label:<44} {median(values):7.2f} s  floor {median(floors):6.2f} s ({floor_label})  "
        f"ratio {ratio:5.2f}  target <= {target:g}: {ok}\n"
        f"{'':<44} runs: "
        + ", ".join(f"{v:.2f}" for v in values)
        + " s; floor "
        + ", ".join(f"{f:.2f}" for f in floors)
        + "; paired ratios "
        + ", ".join(f"{r:.2f}" for r in ratios)
    )


def cold_run(snake: list[str], project: Path):
    """One cold run (results and Snakemake's records removed first): ``Measured``."""
    for made in ("results", ".snakemake", "f"):
        shutil.rmtree(project / made, ignore_errors=True)
    return measure_all(snake, project)


def cpu_line(cpu: float, floor_cpu: float | None, cores: int) -> str:
    """The CPU a measure used (every process, user and system): on ``cores`` cores its wall
    time cannot be less than ``cpu / cores``."""
    floor = f"; the floor's {floor_cpu:.2f} s" if floor_cpu is not None else ""
    return (
        f"{'':<44} CPU {cpu:.2f} s (user and system, every process){floor}: on {cores} cores "
        f"at least {cpu / cores:.2f} s of wall"
    )


def loop_rows(cores: int, runs: int, imports: bool = True) -> None:
    snake = ["snakemake", "--cores", str(cores)]
    with tempfile.TemporaryDirectory(prefix="stsmeta-loop-") as tmp:
        root = Path(tmp)
        project = copy_repo(root / "project")
        # The yardstick: the same DAG, jobs that only touch their outputs. Every run below is
        # taken right after a run of its floor, and the verdict is on the median paired ratio.
        empty = baseline_project(project, root, params=True)
        colds, floors = [], []
        for _ in range(runs):
            floors.append(cold_run(snake, empty))
            colds.append(cold_run(snake, project))
        print(paired_lines("cold run, default target", [r.wall for r in colds],
                           [r.wall for r in floors], "empty-job DAG, cold", 2))  # fmt: skip
        print(cpu_line(median([r.cpu for r in colds]), median([r.cpu for r in floors]), cores))
        print(f"{'':<44} peak memory of the largest process "
              f"{max(r.rss for r in colds):.0f} MiB")  # fmt: skip

        def floor_noop() -> float:
            # No-op runs are short: the median of 3 (one alone is noisy).
            return median_wall(snake, empty, runs=3)[0]

        noops, noop_floors = [], []
        for _ in range(runs):
            noop_floors.append(floor_noop())
            noops.append(median_wall(snake, project, runs=3)[0])
        print(paired_lines("no-op", noops, noop_floors, "Snakemake's own no-op", 1.5))

        typos, typo_floors = [], []
        for run in range(runs):
            fix_typo(project / "data" / "raw" / TYPO_STUDY, f"checked {run}")
            jobs = jobs_to_run(project, cores)
            typo_floors.append(floor_noop())
            typos.append(measure(snake, project)[0])
        print(paired_lines("typo in one study's locator", typos, typo_floors, "own no-op", 2))
        print(f"{'':<44} jobs: {jobs}")

        added = project / "data" / "raw" / SYNTHETIC_STUDY.name

        def add() -> str:
            shutil.copy(SYNTHETIC_STUDY, added)
            screening_follows(project, added=[SYNTHETIC_STUDY.stem])
            return jobs_to_run(project, cores)

        def remove() -> None:
            added.unlink()
            screening_follows(project, removed=[SYNTHETIC_STUDY.stem])
            measure(snake, project)

        adds, add_floors, agains, again_floors = [], [], [], []
        for _ in range(runs):
            # Inputs never seen: the coverage study's cache of fitted designs and the pooling
            # and figures jobs' result cache emptied first.
            shutil.rmtree(project / "results" / "coverage" / "cache", ignore_errors=True)
            shutil.rmtree(project / "results" / "cache", ignore_errors=True)
            jobs = add()
            add_floors.append(floor_noop())
            adds.append(measure_all(snake, project))
            remove()
        print(paired_lines("add a study (new design, fitted)", [r.wall for r in adds],
                           add_floors, "own no-op", 4))  # fmt: skip
        print(cpu_line(median([r.cpu for r in adds]), None, cores))
        print(f"{'':<44} jobs: {jobs}")
        for _ in range(runs):
            jobs = add()
            again_floors.append(floor_noop())
            agains.append(measure_all(snake, project))
            remove()
        print(paired_lines("add it again (seen before, copied)", [r.wall for r in agains],
                           again_floors, "own no-op", 4))  # fmt: skip
        print(cpu_line(median([r.cpu for r in agains]), None, cores))
        print(f"{'':<44} jobs: {jobs}")
        # Not in the loop: the figures as PNG and PDF, drawn on request (`snakemake publication`,
        # and for the archive). Timed as Snakemake runs that job alone, drawn (cache emptied).
        prints = []
        for _ in range(runs):
            shutil.rmtree(project / "results" / "cache", ignore_errors=True)
            for ext in ("png", "pdf"):
                for path in (project / "results" / "figures").glob(f"*.{ext}"):
                    path.unlink()
            prints.append(measure_all([*snake, "figures_print"], project))
        label = "on request, not in the loop: PNG and PDF"
        print(
            f"{label:<44} {median([r.wall for r in prints]):7.2f} s  (snakemake figures_print: "
            f"the figures drawn in both formats; CPU {median([r.cpu for r in prints]):.2f} s)"
        )
        if imports:
            import_rows(project)


def job_commands(project: Path) -> dict[str, str]:
    """The first shell command of each kind of job (``stsmeta <command>``), as Snakemake would
    run it in ``project``, without its log redirections."""
    out = subprocess.run(
        ["snakemake", "--cores", "1", "--dry-run", "--printshellcmds", "--forceall"],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    commands: dict[str, str] = {}
    for line in (out.stdout + out.stderr).splitlines():
        found = re.search(r"(python -m stsmeta ([\w-]+) .*)$", line)
        if found and found.group(2) not in commands:
            command = re.sub(r"\s+2?> \S+( 2>&1)?", "", found.group(1))
            commands[found.group(2)] = command
    return commands


def imported_seconds(stderr: str) -> float:
    """The process's imports: the cumulative times of its top-level imports (-X importtime)."""
    top = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", stderr, re.M)
    return sum(int(us) for us, _ in top) / 1e6


def import_rows(project: Path) -> None:
    """Each kind of job run as the workflow runs it, in a finished project: every module it
    imports, when it imports it (heavy imports are deferred into the functions that need them,
    so listing a job's top-level modules would miss them). With the package's bytecode cache
    (what every run after the first finds), and without it (a copy of the package without
    ``__pycache__`` first on ``PYTHONPATH``, ``PYTHONDONTWRITEBYTECODE`` set: every stsmeta
    module compiled from source, the other packages' caches used as usual)."""
    print("\nper job: interpreter start-up and every import of the job (python -X importtime)")
    base = min(measure([sys.executable, "-c", "pass"], REPO)[0] for _ in range(3))
    # What the bare interpreter imports itself (site and the encodings, and whatever the
    # machine's .pth files import) is in its wall time already: count only the job's own.
    own = median_imports(f"{sys.executable} -X importtime -c pass", REPO, None)
    commands = job_commands(project)
    shard = commands.get("coverage-shard", "")
    pool = commands.get("pool", "")
    figures = commands.get("figures", "")

    def computing(command: str) -> str | None:
        # Without --cache: the job computes (in the finished project its cache would hit).
        return re.sub(r" --cache \S+", "", command) or None

    kinds = {
        "pool": computing(pool),
        "pool (cached)": pool or None,
        "coverage-shard (fit)": computing(shard),
        "coverage-shard (cached)": shard or None,
        "coverage-summary": commands.get("coverage-summary"),
        "tables": commands.get("tables"),
        "figures": computing(figures),
        "figures (cached)": figures or None,
        "report": commands.get("report"),
    }
    import stsmeta

    with tempfile.TemporaryDirectory(prefix="stsmeta-nopyc-") as bare:
        package = Path(stsmeta.__file__).parent
        shutil.copytree(
            package, Path(bare) / "stsmeta", ignore=shutil.ignore_patterns("__pycache__")
        )
        no_cache = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": bare}
        for job, command in kinds.items():
            if command is None:
                print(f"  {job:<26} no such job in the DAG")
                continue
            command = command.replace("python -m", f"{sys.executable} -X importtime -m", 1)
            cached = base + median_imports(command, project, None) - own
            compiling = base + median_imports(command, project, no_cache) - own
            ok = "meets" if cached <= 0.3 else "MISSES"
            print(
                f"  {job:<26} start-up + imports {cached:5.2f} s (bare interpreter {base:4.2f} s; "
                f"without the bytecode cache {compiling:4.2f} s)  target <= 0.3 s: {ok}"
            )
    served_rows(project, kinds, own)


def served_rows(project: Path, kinds: dict[str, str | None], own: float) -> None:
    """The same jobs as a workflow run starts them, through its job server
    (``stsmeta.cli.job_server``): the hand-off (a served ``python -m stsmeta --version``, from the
    client's start to its exit: interpreter, connection, fork, the command's parser) plus what
    the job still imports after the server's imports (``-X importtime`` in the forked job)."""
    from stsmeta.cli import job_server

    print("\nper job, through the job server (as `snakemake` runs them locally)")
    with tempfile.TemporaryDirectory(prefix="stsmeta-jobs-") as folder:
        path = str(Path(folder) / "socket")
        # Imports first, then listening: once the socket exists, the server has imported all.
        code = (
            "import importlib, sys; from stsmeta.cli import job_server as j; "
            "[importlib.import_module(m) for g in j.PRELOAD.values() for m in g]; "
            "j.serve(sys.argv[1], int(sys.argv[2]), [])"
        )
        threads = {var: "1" for var in job_server.THREAD_VARIABLES}
        server = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-c", code, path, str(os.getpid())],
            env={**os.environ, **threads}, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while not Path(path).exists():
                if server.poll() is not None:
                    raise RuntimeError("the job server did not start")
                time.sleep(0.02)
            env = {**os.environ, job_server.SOCKET_ENV: path}
            version = [sys.executable, "-m", "stsmeta", "--version"]
            handoff = sorted(measure(version, project, env)[0] for _ in range(5))[2]
            print(f"  hand-off (served --version)  {handoff:5.3f} s")
            for job, command in kinds.items():
                if command is None:
                    continue
                command = command.replace("python -m", f"{sys.executable} -X importtime -m", 1)
                # The client's imports (-X importtime: the job server module) and the job's.
                left = median_imports(command, project, env) - own
                served = handoff + left
                ok = "meets" if served <= 0.3 else "MISSES"
                print(
                    f"  {job:<26} hand-off + imports left {served:5.3f} s (imports left "
                    f"{left:5.3f} s)  target <= 0.3 s: {ok}"
                )
        finally:
            server.terminate()
            server.wait()


def median_imports(command: str, project: Path, env: dict | None) -> float:
    """The median of 3 runs of the job's import time (``imported_seconds``)."""
    imports = []
    for _ in range(3):
        proc = subprocess.run(
            ["bash", "-c", command], cwd=project, capture_output=True, text=True, env=env
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"{command} failed:\n{proc.stderr[-2000:]}")
        imports.append(imported_seconds(proc.stderr))
    return sorted(imports)[1]


def glmm_row(datasets: int = 200) -> None:
    """One GLMM fit as ``pool`` makes it (k = 6, Wald CI, nodes checked), wall and CPU time,
    against ``rma.glmm`` in one R process; and the batch path on one dataset, for reference."""
    from bench_pool import run_r, simulate

    from stsmeta.stats import glmm_check, pool

    x, n = simulate(datasets)
    m = x.shape[0]

    def per_fit(fit_one) -> tuple[float, float]:
        """Median over 3 passes of (wall, CPU) seconds per fit, after one pass to warm (the
        first fits of a process run paths whose modules load lazily)."""
        for i in range(m):
            fit_one(i)
        walls, cpus = [], []
        for _ in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(m):
                fit_one(i)
            walls.append((time.perf_counter() - wall) / m)
            cpus.append((time.process_time() - cpu) / m)
        return sorted(walls)[1], sorted(cpus)[1]

    ours, ours_cpu = per_fit(
        lambda i: pool(x[i], n[i], method="glmm", ci="z", profile=False, study_results=False)
    )
    batch, batch_cpu = per_fit(lambda i: glmm_check.glmm_fit_checked(x[i], n[i]))
    print(
        f"\none GLMM fit, k = 6, Wald CI, one at a time: {1e3 * ours:7.3f} ms/fit wall, "
        f"{1e3 * ours_cpu:7.3f} ms CPU"
    )
    print(
        f"  (the fit alone by the batch path, glmm_fit_checked: {1e3 * batch:7.3f} ms wall, "
        f"{1e3 * batch_cpu:7.3f} ms CPU)"
    )
    r = run_r(x, n)
    if r is None:
        print("  Rscript with metafor not available: no comparison")
        return
    theirs = r["glmm"]["seconds"] / m
    theirs_cpu = r["glmm"]["cpu_seconds"] / m
    ok = "meets" if theirs / ours >= 50 else "MISSES"
    print(
        f"  metafor rma.glmm, one R process: {1e3 * theirs:7.3f} ms/fit wall, "
        f"{1e3 * theirs_cpu:7.3f} ms CPU; ours {theirs / ours:5.1f}x faster (CPU "
        f"{theirs_cpu / ours_cpu:5.1f}x)  target >= 50x: {ok}"
    )


# Mirrors the rules of workflow/rules/*.smk, one process, no Snakemake.
ONE_PROCESS = r"""
import json, yaml
from pathlib import Path
from stsmeta.cli import main
from stsmeta.config import STAGE_FIELDS, effective_config, load_config
from stsmeta.coverage.design import design_text
from stsmeta.coverage.plan import settings_from_config
from stsmeta.evidence.studyfile import normalise_file, validate_paths
from stsmeta.pool.extract import extract_text

config, problems = load_config(yaml.safe_load(open("config.yaml")), file="config.yaml")
assert not problems, problems
R = Path("results")
for stage in STAGE_FIELDS:
    (R / "config").mkdir(parents=True, exist_ok=True)
    (R / "config" / f"{stage}.json").write_text(effective_config(config, stage))
raws = sorted(Path(config.get("studies_dir", "data/raw")).glob("*.yaml"))
assert not validate_paths(raws, config)
(R / "normalised").mkdir(exist_ok=True)
(R / "extract").mkdir(exist_ok=True)
normalised, extracts, records = [], [], []
for raw in raws:
    out = R / "normalised" / f"{raw.stem}.json"
    normalise_file(str(raw), str(out), config)
    record = json.loads(out.read_text())
    records.append(json.loads(extract_text(record)))
    (R / "extract" / f"{raw.stem}.json").write_text(extract_text(record))
    normalised.append(str(out))
    extracts.append(str(R / "extract" / f"{raw.stem}.json"))
cfg = {s: str(R / "config" / f"{s}.json") for s in STAGE_FIELDS}
assert main(["tables", *normalised, "--outdir", str(R / "tables")]) == 0
assert main(["screening", "data/screening/screening.yaml", *extracts,
             "--flow", str(R / "tables" / "prisma_flow.json"),
             "--records", str(R / "tables" / "screening.csv")]) == 0
cov = settings_from_config(config)
design = R / "coverage" / "design.json"
design.parent.mkdir(parents=True, exist_ok=True)
design.write_text(design_text(records, config, cov.outcome, cov.scenario))
shards = []
for family in cov.families():
    for shard in range(cov.shards):
        out = R / "coverage" / "shards" / family / f"{shard}.csv"
        shards.append(str(out))
        assert main(["coverage-shard", "--config", cfg["coverage"], "--design", str(design),
                     "--family", family, "--shard", str(shard), "-o", str(out)]) == 0
summary = R / "coverage" / "summary.json"
assert main(["coverage-summary", "--config", cfg["coverage"], "--design", str(design),
             "--csv", str(R / "coverage" / "summary.csv"), "--json", str(summary), *shards]) == 0
# The primary method is chosen from the coverage study (methods.selection: coverage).
scenarios = sorted(config["scenarios"])
for outcome in sorted(config["outcomes"]):
    args = [a for s in scenarios
            for a in ("--scenario", s, "--out", str(R / "pool" / outcome / f"{s}.json"))]
    assert main(["pool", "--config", cfg["pool"], "--outcome", outcome, *args,
                 "--selection", str(summary), *extracts]) == 0
figs = R / "figures"
assert main(["figures", "--config", cfg["figures"], "--pool-dir", str(R / "pool"),
             "--studies", *extracts, "--outdir", str(figs), "--coverage", str(summary),
             "--processes", "{cores}", "--formats", "svg"]) == 0  # as the default target
assert main(["report", "--config", cfg["report"], "--pool-dir", str(R / "pool"),
             "--studies", *normalised, "--tables", str(R / "tables"),
             "--figures-dir", str(figs), "--coverage", str(summary),
             "--screening", "data/screening/screening.yaml", "--certainty", "data/certainty.yaml",
             "--html", str(R / "report.html"), "--md", str(R / "report.md")]) == 0
"""


def scale_rows(sizes: list[int], cores: int, floor_up_to: int) -> None:
    tmpl = templates()
    snake = ["snakemake", "--cores", str(cores)]
    print(f"\nsynthetic evidence bases, cold (snakemake --cores {cores})")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="stsmeta-loop-scale-") as tmp:
            project = copy_repo(Path(tmp) / "project")
            synthetic_base(project, size, tmpl)
            floor_project = Path(tmp) / "floor"
            shutil.copytree(project, floor_project)
            cold, rss = measure(snake, project)
            if size > floor_up_to:
                label = f"{size:,} studies, cold"
                print(f"{label:<44} {cold:7.2f} s  peak memory {rss:.0f} MiB (one-process floor "
                      "not measured above --floor-up-to)", flush=True)  # fmt: skip
                continue
            floor, floor_rss = measure([sys.executable, "-c", ONE_PROCESS.replace("{cores}", "1")],
                                       floor_project)  # fmt: skip
            print(
                ratio_line(f"{size:,} studies, cold", cold, floor, "one process", 1.5)
                + f"  peak memory {rss:.0f} MiB (one process {floor_rss:.0f} MiB)",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--scale", type=int, nargs="*", default=[], metavar="N")
    parser.add_argument("--runs", type=int, default=3, help="runs per measure (median printed)")
    parser.add_argument("--skip-loop", action="store_true")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--skip-glmm", action="store_true")
    parser.add_argument(
        "--floor-up-to", type=int, default=1000, metavar="N",
        help="measure the one-process floor only up to N studies (it doubles the time)",
    )  # fmt: skip
    args = parser.parse_args()
    stall = slurm_stall()
    if stall and not (args.skip_loop and not args.scale):
        print(f"not measured: {stall}", file=sys.stderr)
        return 2
    print(f"issue 16 loop benchmark, snakemake --cores {args.cores}, shipped studies", flush=True)
    print(compile_package(), flush=True)
    if not args.skip_loop:
        loop_rows(args.cores, args.runs, imports=not args.skip_imports)
    if not args.skip_glmm:
        glmm_row()
    if args.scale:
        scale_rows(args.scale, args.cores, args.floor_up_to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
