"""``stsmeta pool``: pool the proportions in a CSV of ``study,events,n`` (``--input``), or apply
the analysis plan to normalised studies for one outcome and scenario (``--outcome``; the workflow's
pool stage, see ``stsmeta.cli.pool_plan``)."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from stsmeta.cli.pool_plan import add_plan_arguments, run_plan
from stsmeta.errors import InputError, Problem

REQUIRED = ("study", "events", "n")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pool",
        help="pool single proportions (GLMM, inverse-variance random effects, exact common effect)",
        description="Pool the proportions events/n of a CSV with columns study,events,n "
        "(other columns are ignored).",
    )
    p.add_argument("--input", metavar="FILE.csv", help="CSV with study,events,n")
    p.add_argument("--method", choices=("glmm", "ivre", "common"), default="glmm")
    p.add_argument(
        "--transform",
        choices=("logit", "ft", "arcsine", "raw"),
        default="logit",
        help="model scale for --method ivre",
    )
    p.add_argument(
        "--tau2",
        choices=("DL", "REML", "PM", "ML"),
        default="REML",
        help="between-study variance estimator for --method ivre",
    )
    p.add_argument(
        "--ci",
        choices=("z", "t", "hk"),
        default="z",
        help="z, t with k-1 df, or Hartung-Knapp (ivre only)",
    )
    p.add_argument(
        "--pi",
        choices=("z", "t-k1", "t-k2"),
        default="z",
        help="prediction interval: z, t with k-1 df, or t with k-2 df (Higgins 2009)",
    )
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument(
        "--study-ci",
        choices=("cp", "wilson", "jeffreys"),
        default="cp",
        help="interval for each study (default Clopper-Pearson)",
    )
    p.add_argument(
        "--nodes",
        type=int,
        default=None,
        metavar="N",
        help="Gauss-Hermite nodes for the GLMM (default 61)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_plan_arguments(p)
    p.set_defaults(func=run)


def _count(value: str, file: str, field: str, row: int) -> tuple[int | None, Problem | None]:
    text = (value or "").strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not number.is_integer():
        return None, Problem(
            file,
            f"row {row}: {field}",
            f"{text!r} is not a whole number; {field} must be a count (0, 1, 2, ...)",
        )
    if number < 0:
        return None, Problem(
            file,
            f"row {row}: {field}",
            f"{text} is negative; {field} must be a count (0, 1, 2, ...)",
        )
    return int(number), None


def read_counts(path: str) -> tuple[list[str], list[int], list[int]]:
    """Read study,events,n; raise InputError naming the file, row and fix for every problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(Problem(file, "", f"cannot be read ({exc.strerror})")) from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            Problem(
                file,
                "header",
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                f"the CSV needs a header with columns {', '.join(REQUIRED)} "
                "(other columns are ignored)",
            )
        )
    reader.fieldnames = header
    problems: list[Problem] = []
    studies: list[str] = []
    events: list[int] = []
    sizes: list[int] = []
    for row_number, row in enumerate(reader, start=1):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        study = (row.get("study") or "").strip() or f"row {row_number}"
        x, p1 = _count(row.get("events"), file, "events", row_number)
        n, p2 = _count(row.get("n"), file, "n", row_number)
        problems += [p for p in (p1, p2) if p]
        if x is None or n is None:
            continue
        if n < 1:
            problems.append(
                Problem(file, f"row {row_number}: n", f"n is {n}; every study needs n >= 1")
            )
        elif x > n:
            problems.append(
                Problem(
                    file,
                    f"row {row_number}: events",
                    f"events ({x}) exceed n ({n}) for study {study!r}; "
                    "events must be between 0 and n",
                )
            )
        studies.append(study)
        events.append(x)
        sizes.append(n)
    if problems:
        raise InputError(problems)
    if not studies:
        raise InputError(Problem(file, "", "has no data rows; give one row per study"))
    return studies, events, sizes


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def format_table(result: dict) -> str:
    """A readable table of a pooled result (the dict of ``PoolResult.to_dict()``)."""
    s = result["settings"]
    pct = round(100 * s["level"])
    lines = [s["description"], ""]
    head = f"{'study':<24} {'events':>6} {'n':>5} {'prop':>7} {f'{pct}% CI':>17} {'weight %':>9}"
    lines += [head, "-" * len(head)]
    for st in result["studies"]:
        ci = f"{_fmt(st['ci_low'])}-{_fmt(st['ci_high'])}"
        lines.append(
            f"{st['study'][:24]:<24} {st['events']:>6} {st['n']:>5} {_fmt(st['proportion']):>7} "
            f"{ci:>17} {_fmt(st['weight'], 1):>9}"
        )
    lines.append("-" * len(head))
    lines.append(f"k = {result['k']}, {result['events']}/{result['n']} events")
    lines.append(
        f"pooled proportion {_fmt(result['estimate'])}  "
        f"{pct}% CI {_fmt(result['ci_low'])} to {_fmt(result['ci_high'])}  "
        f"{pct}% PI {_fmt(result['pi_low'])} to {_fmt(result['pi_high'])}"
    )
    if result.get("profile_ci_low") is not None or result.get("profile_ci_high") is not None:
        lines.append(
            f"profile-likelihood CI {_fmt(result.get('profile_ci_low'))} to "
            f"{_fmt(result.get('profile_ci_high'))}"
        )
    lines.append(
        f"mu {_fmt(result['mu'])} (se {_fmt(result['se'])})  tau2 {_fmt(result['tau2'])}  "
        f"I2 {_fmt(result['i2'], 1)}%  Q {_fmt(result['q'], 2)} (p {_fmt(result['q_p'])})"
    )
    for w in result["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from stsmeta.stats import pool

    if args.outcome is not None:
        return run_plan(args)
    if args.input is None:
        raise InputError(
            Problem(
                "command line",
                "--input",
                "give --input FILE.csv (study,events,n), or --outcome with --config, --out and "
                "normalised studies to apply the analysis plan",
            )
        )
    if not 0 < args.level < 1:
        raise InputError(Problem("--level", "level", f"{args.level} must be between 0 and 1"))
    if args.ci == "hk" and args.method != "ivre":
        raise InputError(
            Problem("--ci", "ci", "hk (Hartung-Knapp) is for --method ivre only; use z or t")
        )
    studies, events, n = read_counts(args.input)
    kwargs = {}
    if args.nodes is not None:
        if args.nodes < 1:
            raise InputError(Problem("--nodes", "nodes", "must be a positive whole number"))
        kwargs["n_nodes"] = args.nodes
    result = pool(
        events,
        n,
        method=args.method,
        transform=args.transform,
        tau2=args.tau2,
        ci=args.ci,
        pi=args.pi,
        level=args.level,
        study_ci=args.study_ci,
        studies=studies,
        **kwargs,
    ).to_dict()
    if args.json:
        sys.stdout.write(json.dumps(result, sort_keys=True, indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write(format_table(result) + "\n")
    return 0
