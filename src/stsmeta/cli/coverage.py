"""``stsmeta coverage-shard``, ``coverage-summary`` and ``coverage-figure``: the coverage study.

A shard fits the configured methods of one or more method families to its part of every grid
cell (``coverage.simulate.Share``: a run of whole fitting blocks for batch fitters, the
replicates of the datasets it owns for per-dataset fitters; possibly none, which gives a
header-only file), simulating the replicates once, and writes one CSV per family, one row per
(method, cell, replicate), each the same file whichever families share the job; the summary
merges the shards into per-method, per-cell coverage, width, bias and failure rates; the figure
draws the coverage heat map (the workflow draws it in the figures job, ``stsmeta figures
--coverage``: the same bytes).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import sys
from pathlib import Path

from stsmeta.cli.progress import Progress
from stsmeta.errors import InputError, Problem
from stsmeta.spreadsheet import safe_cell

SHARD_COLUMNS = (
    "method",
    "true_proportion",
    "tau",
    "replicate",
    "estimate",
    "ci_low",
    "ci_high",
    "failure",
)

SUMMARY_COLUMNS = (
    "method",
    "label",
    "family",
    "true_proportion",
    "tau",
    "replicates",
    "answered",
    "failure_rate",
    "failure_rate_mcse",
    "coverage",
    "coverage_mcse",
    "median_width",
    "median_width_mcse",
    "bias",
    "bias_mcse",
    "mean_width",
    "mean_width_mcse",
)


def register(subparsers) -> None:
    shard = subparsers.add_parser(
        "coverage-shard",
        help="fit method families to one shard of the coverage study's replicates",
    )
    shard.add_argument("--config", required=True, help="config.yaml (its coverage section)")
    shard.add_argument(
        "--design",
        required=True,
        help="design JSON (results/coverage/design.json, or a pooled result): the studies' n",
    )
    shard.add_argument(
        "--family",
        required=True,
        action="append",
        help="method family (pool() method): glmm, ...; repeat it, each followed by its -o",
    )
    shard.add_argument("--shard", required=True, type=int, help="shard index, 0-based")
    shard.add_argument(
        "-o", "--out", required=True, action="append", help="the family's shard CSV to write"
    )
    shard.add_argument(
        "--cache",
        metavar="DIR",
        help="folder of shards fitted before, by design, settings and code (the workflow's "
        "results/coverage/cache); a shard found there is copied, not refitted",
    )
    shard.set_defaults(func=_shard)

    summary = subparsers.add_parser(
        "coverage-summary", help="merge coverage shards into the per-method, per-cell summary"
    )
    summary.add_argument("--config", required=True)
    summary.add_argument("--design", required=True)
    summary.add_argument("--csv", required=True, help="summary CSV to write")
    summary.add_argument("--json", required=True, help="summary JSON to write")
    summary.add_argument("shards", nargs="+", help="shard CSVs")
    summary.set_defaults(func=_summary)

    figure = subparsers.add_parser(
        "coverage-figure", help="draw the coverage heat map from the summary JSON"
    )
    figure.add_argument("summary", help="summary JSON of coverage-summary")
    figure.add_argument(
        "-o", "--out", required=True, nargs="+", help="figure files (.png, .svg, .pdf)"
    )
    figure.set_defaults(func=_figure)


# --- reading inputs ------------------------------------------------------------------------------


def read_json(path: str):
    """A JSON file; a missing or malformed one is an InputError naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputError(Problem(path, "", "file not found")) from None
    except json.JSONDecodeError as exc:
        raise InputError(Problem(path, "", f"not valid JSON: {exc}")) from None


def load_settings(config_path: str):
    # From the plan, not the study module: a cached shard never imports numpy.
    from stsmeta.config import read_config
    from stsmeta.coverage.plan import settings_from_config

    return settings_from_config(read_config(config_path), config_path)


def load_design(path: str):
    from stsmeta.coverage.design import design_sizes

    return design_sizes(read_json(path), path)


# --- shard files ---------------------------------------------------------------------------------


def _exact(x: float) -> str:
    """A float as its shortest round-trip text, so shard files reload to the very same values."""
    return "" if not math.isfinite(x) else repr(float(x))


def _exact_column(values) -> list[str]:
    """``_exact`` of every value of a float array (its Python floats taken at once)."""
    return [_exact(x) for x in values.tolist()]


def shard_text(blocks) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SHARD_COLUMNS)
    for b in blocks:
        size = len(b.replicate)
        writer.writerows(
            zip(
                itertools.repeat(b.method, size),
                itertools.repeat(_exact(b.cell.proportion), size),
                itertools.repeat(_exact(b.cell.tau), size),
                [int(rep) for rep in b.replicate],
                _exact_column(b.estimate),
                _exact_column(b.ci_low),
                _exact_column(b.ci_high),
                b.failure,
                strict=True,
            )
        )
    return buf.getvalue()


def read_shard(path: str):
    """The blocks (one per method and cell) of a shard CSV."""
    import numpy as np

    from stsmeta.coverage.plan import Cell
    from stsmeta.coverage.simulate import Replicates

    rows: dict[tuple[str, str, str], list[tuple]] = {}
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            if tuple(next(reader, ())) != SHARD_COLUMNS:
                raise InputError(
                    Problem(path, "(header)", f"expected columns {', '.join(SHARD_COLUMNS)}")
                )
            for line, r in enumerate(reader, start=2):
                try:
                    method, p, tau, rep, est, lo, hi, failure = r
                    # Grouped by the cell's text; parsed once per cell below.
                    rows.setdefault((method, p, tau), []).append(
                        (int(rep), _parse(est), _parse(lo), _parse(hi), failure)
                    )
                except ValueError as exc:
                    raise InputError(Problem(path, f"line {line}", str(exc))) from None
    except FileNotFoundError:
        raise InputError(Problem(path, "", "file not found")) from None
    blocks = []
    for (method, p, tau), items in rows.items():
        rep, est, lo, hi, fail = zip(*items, strict=True)
        try:
            cell = Cell(float(p), float(tau))
        except ValueError as exc:
            raise InputError(Problem(path, "true_proportion, tau", str(exc))) from None
        blocks.append(
            Replicates(
                method=method,
                cell=cell,
                replicate=np.array(rep, dtype=np.int64),
                estimate=np.array(est, dtype=float),
                ci_low=np.array(lo, dtype=float),
                ci_high=np.array(hi, dtype=float),
                failure=tuple(fail),
            )
        )
    return blocks


def _parse(text: str) -> float:
    return math.nan if text == "" else float(text)


def _write(path: str, text: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


# --- commands ------------------------------------------------------------------------------------


def _shard(args: argparse.Namespace) -> int:
    from stsmeta.coverage import cache

    settings = load_settings(args.config)
    _, n = load_design(args.design)
    _check_shard_request(args, settings)
    todo = []
    for family, out in zip(args.family, args.out, strict=True):
        key = cache.shard_key(n, settings.fingerprint(family), family, args.shard)
        cached = cache.lookup(args.cache, family, key) if args.cache else None
        if cached is None:
            todo.append((family, out, key))
            continue
        _write(out, cached)
        print(
            f"coverage-shard: {family} shard {args.shard}: this design and these settings "
            f"were fitted before; copied {cache.entry(args.cache, family, key)}",
            file=sys.stderr,
        )
    if not todo:
        return 0
    # The families not cached are fitted together: the replicates are simulated once.
    methods = {name: spec for f, _, _ in todo for name, spec in settings.methods_of(f).items()}
    label = f"coverage shard {args.shard} ({', '.join(f for f, _, _ in todo)})"
    blocks = _fit_shard(settings, n, args.shard, methods, label)
    for family, out, key in todo:
        names = set(settings.methods_of(family))
        # The family's blocks in run order (cell, then method name): the very file a job
        # fitting this family alone writes.
        own = [b for b in blocks if b.method in names]
        text = shard_text(own)
        _write(out, text)
        if args.cache:
            cache.store(args.cache, family, key, text)
        failed = sum(sum(1 for f in b.failure if f) for b in own)
        fits = sum(len(b.failure) for b in own)
        print(
            f"coverage-shard: {family} shard {args.shard}: {fits} fits of "
            f"{', '.join(sorted(names))}, {failed} without an answer",
            file=sys.stderr,
        )
    return 0


def _check_shard_request(args: argparse.Namespace, settings) -> None:
    """Each --family configured and paired with its -o; the shard index in range."""
    if len(args.family) != len(args.out):
        raise InputError(
            Problem(
                "(command line)",
                "--family/-o",
                f"{len(args.family)} --family but {len(args.out)} -o: give one -o (the shard "
                "CSV to write) after each --family",
            )
        )
    families = settings.families()
    for family in args.family:
        if family not in families:
            raise InputError(
                Problem(
                    args.config,
                    "methods",
                    f"no configured method of family {family!r}; "
                    f"families configured: {', '.join(families)}",
                )
            )
    if not 0 <= args.shard < settings.shards:
        raise InputError(
            Problem(
                args.config,
                "coverage.shards",
                f"shard {args.shard} asked for, but there are "
                f"{settings.shards} (0..{settings.shards - 1})",
            )
        )


def _fit_shard(settings, n, shard: int, methods, label: str):
    """The shard's fitted blocks (one per method and cell, in run order) for ``methods``."""
    from stsmeta.coverage.simulate import Share, run_shard
    from stsmeta.coverage.study import fitter_for

    fitters = {name: fitter_for(spec, settings.level, n) for name, spec in methods.items()}
    share = Share(shard, settings.shards, settings.replicates)
    return run_shard(n, settings.cells(), fitters, share, settings.seed, Progress(label))


def _fmt(x: float) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.6f}"


def _num(x: float):
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def summary_documents(settings, design, blocks) -> tuple[str, str]:
    """The summary CSV and JSON texts (deterministic: sorted rows and keys, fixed decimals)."""
    from stsmeta.coverage.plan import family_of
    from stsmeta.coverage.summary import recommend, summarise

    ids, n = design
    specs = dict(settings.methods)
    summaries = summarise(blocks)
    _check_complete(settings, specs, summaries)
    rec = recommend(summaries, settings.level, settings.max_failure_rate)

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    rows = []
    for s in summaries:
        spec = specs[s.method]
        label = str(spec.get("label", s.method))
        writer.writerow(_csv_row(s, label, family_of(spec)))
        rows.append(_json_row(s, label, family_of(spec)))
    doc = {
        "design": {
            "k": len(n),
            "studies": [{"study": i, "n": k} for i, k in zip(ids, n, strict=True)],
        },
        "settings": {
            "outcome": settings.outcome,
            "scenario": settings.scenario,
            "true_proportions": list(settings.proportions),
            "taus": list(settings.taus),
            "replicates": settings.replicates,
            "seed": settings.seed,
            "level": settings.level,
            "max_failure_rate": settings.max_failure_rate,
            "model": "logit(p_i) ~ N(logit(true_proportion), tau^2); events_i ~ Binomial(n_i, p_i)",
        },
        "methods": {
            name: {"label": str(spec.get("label", name)), "family": family_of(spec)}
            for name, spec in settings.methods
        },
        "summary": rows,
        "recommendation": _recommendation_doc(rec, specs),
    }
    return buf.getvalue(), json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _check_complete(settings, specs, summaries) -> None:
    """Raise InputError unless the shards hold every configured replicate of every method and
    cell, and no other method."""
    expected = {name: settings.replicates for name in specs}
    for s in summaries:
        if s.method not in specs:
            raise InputError(
                Problem("coverage shards", s.method, "method is not in config.yaml methods")
            )
        if s.replicates != expected[s.method]:
            raise InputError(
                Problem(
                    "coverage shards",
                    f"{s.method} p={s.proportion} tau={s.tau}",
                    f"{s.replicates} replicates found, {settings.replicates} configured: "
                    "a shard is missing or stale",
                )
            )
    seen = {(s.method, s.proportion, s.tau) for s in summaries}
    missing = [
        (m, c.proportion, c.tau)
        for m in specs
        for c in settings.cells()
        if (m, c.proportion, c.tau) not in seen
    ]
    if missing:
        m, p, t = missing[0]
        raise InputError(
            Problem("coverage shards", f"{m} p={p} tau={t}", "no replicates: a shard is missing")
        )


def _csv_row(s, label: str, family: str) -> tuple:
    """One summary CSV row (SUMMARY_COLUMNS) of a CellSummary."""
    return (
        s.method,
        safe_cell(label),  # config text: spreadsheet-safe in the CSV only
        family,
        _fmt(s.proportion),
        _fmt(s.tau),
        s.replicates,
        s.answered,
        _fmt(s.failure_rate),
        _fmt(s.failure_rate_mcse),
        _fmt(s.coverage),
        _fmt(s.coverage_mcse),
        _fmt(s.median_width),
        _fmt(s.median_width_mcse),
        _fmt(s.bias),
        _fmt(s.bias_mcse),
        _fmt(s.mean_width),
        _fmt(s.mean_width_mcse),
    )


def _json_row(s, label: str, family: str) -> dict:
    """One row of the summary JSON's ``summary`` list."""
    return {
        "method": s.method,
        "label": label,
        "family": family,
        "true_proportion": _num(s.proportion),
        "tau": _num(s.tau),
        "replicates": s.replicates,
        "answered": s.answered,
        "failure_rate": _num(s.failure_rate),
        "failure_rate_mcse": _num(s.failure_rate_mcse),
        "coverage": _num(s.coverage),
        "coverage_mcse": _num(s.coverage_mcse),
        "median_width": _num(s.median_width),
        "median_width_mcse": _num(s.median_width_mcse),
        "bias": _num(s.bias),
        "bias_mcse": _num(s.bias_mcse),
        "mean_width": _num(s.mean_width),
        "mean_width_mcse": _num(s.mean_width_mcse),
    }


def _margin_doc(rec, specs) -> dict | None:
    """The summary JSON's ``recommendation.runner_up``: the next eligible method by the rule's
    ranking, how far its worst cell is behind the recommended method's (``margin``), the Monte
    Carlo SE of that margin and the margin in SEs, and whether that reaches
    ``coverage.summary.SEPARATION`` (null without a runner-up)."""
    from stsmeta.coverage.summary import SEPARATION, TIE

    m = rec.margin
    if m is None:
        return None
    return {
        "method": m.runner_up,
        "label": str(specs[m.runner_up].get("label", m.runner_up)),
        "worst_abs_deviation": _num(m.runner_up_worst_abs_deviation),
        "margin": _num(m.margin),
        "margin_mcse": _num(m.mcse),
        "margin_in_mcse": _num(m.in_mcse),
        "same_cell": m.same_cell,
        "tied": m.tied,
        "runner_up_narrower": m.runner_up_narrower,
        "deciding_margin": _num(m.deciding_margin),
        "deciding_in_mcse": _num(m.deciding_in_mcse),
        "separated": m.separated,
        "separation": SEPARATION,
        "tie": TIE,
    }


def _recommendation_doc(rec, specs) -> dict:
    """The summary JSON's ``recommendation``: the method, why, every method's verdict, and the
    runner-up with the margin between them."""
    return {
        "method": rec.method,
        "label": str(specs[rec.method].get("label", rec.method)) if rec.method else None,
        "reason": rec.reason,
        "level": rec.level,
        "max_failure_rate": rec.max_failure_rate,
        "runner_up": _margin_doc(rec, specs),
        "verdicts": [
            {
                "method": v.method,
                "mean_abs_deviation": _num(v.mean_abs_deviation),
                "min_coverage": _num(v.min_coverage),
                "max_coverage": _num(v.max_coverage),
                "max_failure_rate": _num(v.max_failure_rate),
                "eligible": v.eligible,
                "worst_abs_deviation": _num(v.worst_abs_deviation),
                "worst_true_proportion": _num(v.worst_proportion),
                "worst_tau": _num(v.worst_tau),
                "worst_coverage_mcse": _num(v.worst_coverage_mcse),
                "mean_width": _num(v.mean_width),
            }
            for v in rec.verdicts
        ],
    }


def _summary(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    design = load_design(args.design)
    blocks = [b for path in sorted(args.shards) for b in read_shard(path)]
    from stsmeta.coverage.summary import RepeatedReplicate

    try:
        csv_text, json_text = summary_documents(settings, design, blocks)
    except RepeatedReplicate as exc:  # a replicate in two shard files: shards of other runs
        raise InputError(
            Problem(
                "coverage shards",
                ", ".join(sorted(args.shards)),
                f"{exc}: the shard files come from different runs (another design, settings or "
                "stsmeta version); rerun them all (`snakemake coverage`, or delete "
                "results/coverage/shards and run again)",
            )
        ) from None
    _write(args.csv, csv_text)
    _write(args.json, json_text)
    rec = json.loads(json_text)["recommendation"]
    print(f"coverage-summary: recommended {rec['method']}: {rec['reason']}", file=sys.stderr)
    if rec["runner_up"]:
        up = rec["runner_up"]
        print(
            f"coverage-summary: runner-up {up['method']} (worst cell {up['worst_abs_deviation']}"
            f" from nominal): margin {up['margin']}, MC SE {up['margin_mcse']}"
            + ("" if up["margin_in_mcse"] is None else f", {up['margin_in_mcse']} MC SEs")
            + ("" if up["separated"] else ": not clearly separated"),
            file=sys.stderr,
        )
    return 0


def _figure(args: argparse.Namespace) -> int:
    from stsmeta.figures.coverage_heatmap import save_coverage_heatmap

    doc = read_json(args.summary)
    for out in args.out:
        suffix = Path(out).suffix.lower()
        if suffix not in (".png", ".svg", ".pdf"):
            raise InputError(Problem(out, "", "figure must end in .png, .svg or .pdf"))
    save_coverage_heatmap(doc, args.out)
    return 0
