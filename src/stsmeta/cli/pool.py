"""``stsmeta pool``: pool the proportions in a CSV of ``study,events,n`` (``--input``), or apply
the analysis plan to normalised studies for one outcome and scenario (``--outcome``; the workflow's
pool stage, see ``stsmeta.cli.pool_plan``)."""

from __future__ import annotations

import argparse
import json
import math
import sys

from stsmeta.cli.pool_input import read_counts, read_moderators
from stsmeta.cli.pool_plan import add_plan_arguments, run_plan
from stsmeta.errors import InputError, Problem


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pool",
        help="pool single proportions (GLMM, inverse-variance random effects, exact common effect)",
        description="Pool the proportions events/n of a CSV with columns study,events,n "
        "(other columns are ignored).",
    )
    p.add_argument("--input", metavar="FILE.csv", help="CSV with study,events,n")
    p.add_argument("--method", choices=("glmm", "ivre", "common", "bayes"), default="glmm")
    _add_bayes_options(p)
    _add_ivre_options(p)
    _add_interval_options(p)
    _add_model_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_plan_arguments(p)
    p.set_defaults(func=run)


def _add_bayes_options(p: argparse.ArgumentParser) -> None:
    """Priors and thresholds of ``--method bayes``."""
    p.add_argument(
        "--prior-mu",
        metavar="normal:MEAN:SD|logistic:LOC:SCALE",
        default=None,
        help="prior on mu (logit scale) for --method bayes (default logistic:0:1)",
    )
    p.add_argument(
        "--prior-tau",
        metavar="half-normal:SCALE|half-cauchy:SCALE",
        default=None,
        help="prior on tau for --method bayes (default half-normal:1)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        nargs="+",
        action="extend",
        default=[],
        metavar="P",
        help="for --method bayes: report the posterior probability that the proportion exceeds P",
    )


def _add_ivre_options(p: argparse.ArgumentParser) -> None:
    """Model scale, continuity correction and tau² estimator of ``--method ivre``."""
    p.add_argument(
        "--transform",
        choices=("logit", "ft", "arcsine", "raw", "log"),
        default="logit",
        help="model scale for --method ivre",
    )
    p.add_argument(
        "--cc-add",
        type=float,
        default=None,
        metavar="X",
        help="continuity correction added to events and non-events for --method ivre "
        "(metafor escalc add; default 0.5 for logit and log, 0 otherwise)",
    )
    p.add_argument(
        "--cc-to",
        choices=("only0", "all", "if0all", "none"),
        default="only0",
        help="which studies get --cc-add (metafor escalc to; default only0: 0%% and 100%% studies)",
    )
    p.add_argument(
        "--tau2",
        choices=("DL", "REML", "PM", "ML", "HE", "HS", "SJ", "EB"),
        default="REML",
        help="between-study variance estimator for --method ivre",
    )


def _add_interval_options(p: argparse.ArgumentParser) -> None:
    """Confidence, prediction and study intervals."""
    p.add_argument(
        "--ci",
        choices=("z", "t", "hk", "hk-adhoc"),
        default="z",
        help="z, t with k-1 df, Hartung-Knapp, or Hartung-Knapp with the ad hoc correction "
        "(hk and hk-adhoc: ivre only)",
    )
    p.add_argument(
        "--common-ci",
        choices=("cp", "wilson", "midp"),
        default="cp",
        help="interval for --method common: Clopper-Pearson (default), Wilson or mid-p",
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
        choices=("cp", "wilson", "jeffreys", "ac", "wilson-cc"),
        default="cp",
        help="interval for each study: Clopper-Pearson (default), Wilson, Jeffreys, "
        "Agresti-Coull, Wilson with continuity correction",
    )


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """GLMM quadrature, meta-regression and influence diagnostics."""
    p.add_argument(
        "--nodes",
        type=int,
        default=None,
        metavar="N",
        help="Gauss-Hermite nodes the GLMM starts from (default 61; raised until the fit settles)",
    )
    p.add_argument(
        "--mods",
        metavar="COL[,COL...]",
        default=None,
        help="meta-regression (--method ivre) on these extra CSV columns: numeric columns are "
        "continuous, others categorical (first level, sorted, as reference)",
    )
    p.add_argument(
        "--influence",
        action="store_true",
        help="leave-one-out influence diagnostics (--method ivre; metafor influence())",
    )


# Counts above 2**53 are not all representable as floats, in which the engine computes.
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
    q_name = "Q (LRT)" if result.get("qe_lrt") is not None else "Q"
    lines.append(
        f"mu {_fmt(result['mu'])} (se {_fmt(result['se'])})  tau2 {_fmt(result['tau2'])}  "
        f"I2 {_fmt(result['i2'], 1)}%  {q_name} {_fmt(result['q'], 2)} (p {_fmt(result['q_p'])})"
    )
    if result.get("tau2_ci_low") is not None:
        kind = "profile-likelihood" if s["method"] == "glmm" else "Q-profile"
        lines.append(
            f"{kind} {pct}% CI: tau2 {_fmt(result['tau2_ci_low'])} to "
            f"{_fmt(result.get('tau2_ci_high'))}  I2 {_fmt(result.get('i2_ci_low'), 1)}% to "
            f"{_fmt(result.get('i2_ci_high'), 1)}%"
        )
    reg = result.get("meta_regression")
    if reg:
        test = reg.get("test", "Wald z")
        lines += ["", f"meta-regression ({test} test), residual tau2 {_fmt(reg['tau2'])}"]
        for c in reg["coefficients"]:
            lines.append(
                f"  {c['name'][:22]:<22} {_fmt(c['estimate']):>8} {pct}% CI "
                f"{_fmt(c['ci_low'])} to {_fmt(c['ci_high'])}  p {_fmt(c['p'])}"
            )
        lines.append(
            f"  omnibus QM {_fmt(reg['qm'], 2)} (p {_fmt(reg['qm_p'])})  residual QE "
            f"{_fmt(reg.get('qe'), 2)} (p {_fmt(reg.get('qe_p'))})  R2 {_fmt(reg.get('r2'), 1)}%"
            f"  LRT {_fmt(reg.get('lrt'), 2)} (p {_fmt(reg.get('lrt_p'))})"
        )
    if result.get("tau") is not None:
        lines.append(
            f"tau {_fmt(result['tau'])} ({pct}% CrI {_fmt(result['tau_ci_low'])} to "
            f"{_fmt(result['tau_ci_high'])})"
        )
    for p, prob in (result.get("prob_above") or {}).items():
        lines.append(f"P(proportion > {p}) = {_fmt(prob)}")
    for w in result["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _glmm_regression(args: argparse.Namespace, events: list[int], n: list[int]) -> dict:
    from stsmeta.stats.glmm_reg import fit_glmm_regression
    from stsmeta.stats.metareg import moderator_design

    names = [c.strip() for c in args.mods.split(",") if c.strip()]
    x, labels = moderator_design(read_moderators(args.input, names))
    try:
        fit = fit_glmm_regression(events, n, x, labels, level=args.level)
    except ValueError as exc:
        raise InputError(Problem(str(args.input), "--mods", str(exc))) from None
    return fit.to_dict()


def _ivre_extras(args: argparse.Namespace, events: list[int], n: list[int]) -> dict:
    """Meta-regression (--mods) and influence diagnostics (--influence) of the ivre model."""
    from stsmeta.stats.influence import influence_ivre
    from stsmeta.stats.ivre import transform_proportions
    from stsmeta.stats.metareg import fit_metareg, metareg_dict, moderator_design

    if args.method == "glmm" and args.mods and not args.influence:
        return {"meta_regression": _glmm_regression(args, events, n)}
    if args.method != "ivre":
        raise InputError(
            Problem(
                "--mods/--influence",
                "method",
                "meta-regression is for --method ivre or glmm, influence diagnostics for "
                "--method ivre (metafor influence())",
            )
        )
    yi, vi = transform_proportions(events, n, args.transform, add=args.cc_add, to=args.cc_to)
    out: dict = {}
    if args.influence:
        out["influence"] = influence_ivre(yi, vi, args.tau2).rows()
    if args.mods:
        if args.tau2 not in ("REML", "ML", "DL"):
            raise InputError(
                Problem("--tau2", "tau2", "meta-regression uses REML, ML or DL; choose one")
            )
        names = [c.strip() for c in args.mods.split(",") if c.strip()]
        x, labels = moderator_design(read_moderators(args.input, names))
        test = "knha" if args.ci.startswith("hk") else "z"
        try:
            fit = fit_metareg(yi, vi, x, labels, tau2_method=args.tau2, test=test, level=args.level)
        except ValueError as exc:
            raise InputError(Problem(str(args.input), "--mods", str(exc))) from None
        out["meta_regression"] = metareg_dict(fit)
    return out


def _bayes_arguments(args: argparse.Namespace) -> dict:
    """pool() keywords of --method bayes, each prior and threshold checked with a clear error."""
    from stsmeta.stats.bayes_priors import parse_prior

    given = args.prior_mu is not None or args.prior_tau is not None or args.threshold
    if args.method != "bayes":
        if given:
            raise InputError(
                Problem("command line", "--prior-mu/--prior-tau/--threshold", "need --method bayes")
            )
        return {}
    priors = (("--prior-mu", args.prior_mu, "mu"), ("--prior-tau", args.prior_tau, "tau"))
    for flag, text, role in priors:
        if text is not None:
            try:
                parse_prior(text, role)
            except ValueError as exc:
                raise InputError(Problem("command line", flag, str(exc))) from None
    for t in args.threshold:
        if not 0 < t < 1:
            raise InputError(
                Problem("command line", "--threshold", f"{t} must be a proportion between 0 and 1")
            )
    return {"prior_mu": args.prior_mu, "prior_tau": args.prior_tau, "thresholds": args.threshold}


def run(args: argparse.Namespace) -> int:
    if args.outcome is not None:
        # Before the engine's imports: a result copied from the cache needs none of them.
        return run_plan(args)
    from stsmeta.stats import pool
    from stsmeta.stats.glmm import MAX_NODES

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
    if args.ci.startswith("hk") and args.method != "ivre":
        raise InputError(
            Problem(
                "--ci", "ci", f"{args.ci} (Hartung-Knapp) is for --method ivre only; use z or t"
            )
        )
    if args.cc_add is not None and not 0 <= args.cc_add < math.inf:
        raise InputError(Problem("--cc-add", "cc_add", f"{args.cc_add} must be 0 or more"))
    kwargs = _bayes_arguments(args)
    studies, events, n = read_counts(args.input)
    if args.nodes is not None:
        if not 1 <= args.nodes <= MAX_NODES:
            raise InputError(
                Problem(
                    "--nodes",
                    "nodes",
                    f"{args.nodes} is not between 1 and {MAX_NODES}; the GLMM raises the "
                    "nodes itself until the fit settles, so the default (61) is enough",
                )
            )
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
        cc_add=args.cc_add,
        cc_to=args.cc_to,
        common_ci=args.common_ci,
        **kwargs,
    ).to_dict()
    if args.mods or args.influence:
        result.update(_ivre_extras(args, events, n))
    duplicates = sorted({s for s in studies if studies.count(s) > 1})
    if duplicates:
        result["warnings"].append(
            f"{args.input}: duplicate study names {', '.join(map(repr, duplicates))}: each row "
            "is pooled as a separate study; check that no study is entered twice"
        )
    if args.json:
        sys.stdout.write(json.dumps(result, sort_keys=True, indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write(format_table(result) + "\n")
    return 0
