"""Per-stage scale benchmark (issue 6): the in-process cost of the slow stages at N studies.

    python benchmarks/bench_stages.py [--sizes 10 100 1000] [--stage figures validate]

Inputs are SYNTHETIC: the pooled results and normalised studies of tests/fixtures/pooled
(themselves synthetic) replicated to N studies with new ids and labels (``syn-s00042-2016``,
"Synthetic 00042 (copy of ...)"), and, for ``validate``, N copies of the shipped study files
written to a temporary directory as benchmarks/bench_scale.py writes them. Prints, per size and
stage, the wall time, so that growth with N can be read off (linear: x10 studies, ~x10 time).
Asserts nothing; timings depend on the machine.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "pooled"


def synthetic_id(template_id: str, index: int, year: object) -> str:
    return f"syn-s{index:05d}-{year if isinstance(year, int) else 'nd'}"


def inflate(pooled: dict, studies: dict, n_studies: int) -> tuple[dict, dict]:
    """``pooled`` and ``studies`` with every study replaced by ``n_studies`` synthetic copies."""
    templates = sorted(studies)
    new_studies: dict[str, dict] = {}
    copies: dict[str, list[str]] = {t: [] for t in templates}
    for index in range(n_studies):
        template = templates[index % len(templates)]
        info = copy.deepcopy(studies[template])
        new_id = synthetic_id(template, index, info.get("year"))
        info["study_id"] = new_id
        info["label"] = f"Synthetic {index:05d} (copy of {info.get('label') or template})"
        new_studies[new_id] = info
        copies[template].append(new_id)

    def expand(entries: list[dict]) -> list[dict]:
        out = []
        for entry in entries or []:
            for new_id in copies.get(str(entry.get("study")), []):
                out.append({**entry, "study": new_id})
        return out

    new_pooled: dict = {}
    for outcome, scenarios in pooled.items():
        new_pooled[outcome] = {}
        for scenario, result in scenarios.items():
            result = copy.deepcopy(result)
            result["studies"] = expand(result.get("studies"))
            for levels in (result.get("subgroups") or {}).values():
                for level in (levels or {}).values():
                    if level:
                        level["studies"] = expand(level.get("studies"))
            loo = result.get("leave_one_out") or {}
            if loo:
                result["leave_one_out"] = {
                    new_id: {k: v for k, v in loo[t].items() if k != "studies"}
                    for t in loo
                    for new_id in copies.get(t, [])
                }
            steps = result.get("cumulative") or []
            if steps:
                by_study = {str(s.get("added_study")): s for s in steps}
                result["cumulative"] = [
                    {
                        **{k: v for k, v in by_study[t].items() if k != "studies"},
                        "added_study": new_id,
                    }
                    for t in by_study
                    for new_id in copies.get(t, [])
                ]
            new_pooled[outcome][scenario] = result
    return new_pooled, new_studies


def bench_figures(sizes: list[int], processes: int | None = None) -> None:
    from stsmeta.figures import default_processes, write_figures
    from stsmeta.presentation.inputs import InputFiles, load_normalised, load_plan, load_pooled

    files = InputFiles()
    plan = load_plan(FIXTURES / "config.yaml", files)
    pooled = load_pooled(FIXTURES / "results" / "pool", plan, files)
    studies = load_normalised(sorted((FIXTURES / "results" / "normalised").glob("*.json")), files)
    # As `stsmeta figures` does by default: save in as many processes as there are CPUs.
    processes = processes or default_processes()
    for size in sizes:
        big_pooled, big_studies = inflate(pooled, studies, size)
        with tempfile.TemporaryDirectory(prefix="stsmeta-bench-figures-") as tmp:
            start = time.perf_counter()
            paths = write_figures(plan, big_pooled, big_studies, tmp, processes=processes)
            wall = time.perf_counter() - start
            megabytes = sum(p.stat().st_size for p in paths) / 2**20
        print(
            f"figures   {size:>6} studies: {wall:7.2f} s ({len(paths)} files, {megabytes:.1f} MiB, "
            f"{processes} processes)",
            flush=True,
        )


def bench_validate(sizes: list[int]) -> None:
    import yaml

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_scale import templates, write_synthetic

    from stsmeta.evidence.studyfile import validate_paths

    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    tmpl = templates()
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="stsmeta-bench-validate-") as tmp:
            raw = Path(tmp)
            for index in range(size):
                write_synthetic(raw, index, tmpl)
            paths = sorted(raw.glob("*.yaml"))
            start = time.perf_counter()
            problems = validate_paths(paths, config)
            wall = time.perf_counter() - start
        print(f"validate  {size:>6} studies: {wall:7.2f} s ({len(problems)} problems)", flush=True)


STAGES = {"figures": bench_figures, "validate": bench_validate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--stage", nargs="+", choices=sorted(STAGES), default=sorted(STAGES))
    parser.add_argument(
        "--processes", type=int, default=None, help="figures: saving processes (default: CPUs)"
    )
    args = parser.parse_args()
    for stage in args.stage:
        if stage == "figures":
            bench_figures(args.sizes, args.processes)
        else:
            STAGES[stage](args.sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
