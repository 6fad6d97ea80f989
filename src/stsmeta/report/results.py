"""Results: every method side by side, subgroups, sensitivity analyses."""

from __future__ import annotations

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import study_label
from stsmeta.presentation.wording import term
from stsmeta.report.base import (
    NO_YEAR,
    RESULT_HEADER,
    ReportData,
    anchor,
    applied_text,
    estimate_cells,
    events_cell,
    figure_block,
    file_src,
    level_text,
    num,
    pointer,
    result_row,
    warnings_cell,
)
from stsmeta.report.document import (
    Block,
    Cell,
    Heading,
    Paragraph,
    Table,
    cell,
)
from stsmeta.report.notes import notes_cell


def results_section(data: ReportData) -> list[Block]:
    plan = data.plan
    from stsmeta.report.summary import summary_section

    blocks: list[Block] = [Heading(2, "Results", "results")] + summary_section(data)
    for outcome in plan.outcomes:
        label = plan.outcome_label(outcome)
        primary = data.pooled[outcome]["primary"]
        src = file_src(outcome, "primary")
        blocks.append(Heading(3, label, anchor("results", outcome)))
        rows = [result_row(plan.method_label("primary") + " (primary)", primary, src)]
        secondary = primary.get("secondary") or {}
        for name in [m for m in plan.secondary_methods if m in secondary] + [
            m for m in secondary if m not in plan.secondary_methods
        ]:
            rows.append(
                result_row(
                    plan.method_label(name), secondary[name], f"{src}{pointer('secondary', name)}"
                )
            )
        any_bayes = any(
            numbers.interval_kind(r)[0] == "CrI" for r in [primary, *secondary.values()]
        )
        blocks.append(
            Table(
                RESULT_HEADER,
                tuple(rows),
                caption=f"{label}: every method side by side ({level_text(plan)} "
                + ("CI, CrI for the Bayesian methods," if any_bayes else "CI")
                + " and PI)",
            )
        )
        # Extra statistics of a GLMM (primary or secondary), each only when the engine gave a
        # value: its profile-likelihood interval beside the table's Wald-type one, which can be
        # far wider than the likelihood supports with a few small studies.
        methods = [("the primary method", primary, src, True)] + [
            (plan.method_label(name), result, f"{src}{pointer('secondary', name)}", False)
            for name, result in secondary.items()
            if isinstance(result, dict)
        ]
        for name, result, at, is_primary in methods:
            parts = glmm_extras(name, result, at, level_text(plan), is_primary)
            if parts:
                blocks.append(Paragraph(tuple(parts)))
        blocks += figure_block(
            data,
            f"forest_{outcome}",
            f"Forest plot, {label.lower()}: studies, subgroup and pooled "
            "estimates of every method, prediction interval, heterogeneity.",
        )
    return blocks


def glmm_extras(name: str, result: dict, src: str, level: str, is_primary: bool) -> list:
    """The profile-likelihood interval, τ² interval (the primary's), likelihood-ratio test of
    τ² = 0 and Q description of one method's result: what it carries, nothing else."""

    def interval(words: str, key: str, fmt: str, after: str = "") -> list:
        low, high = num(result, src, f"{key}_low", fmt), num(result, src, f"{key}_high", fmt)
        return [f"{words} of {name}: [", low, ", ", high, f"]{after}. "]

    parts: list = []
    if result.get("profile_ci_low") is not None:
        wald = "" if is_primary else " (the table gives its Wald-type interval)"
        parts += interval(f"Profile-likelihood {level} CI", "profile_ci", "bound", wald)
    if is_primary and result.get("tau2_ci_low") is not None:
        parts += interval(f"τ² {numbers.interval_kind(result)[0]}", "tau2_ci", "tau2")
    if (parts or is_primary) and result.get("lrt_stat") is not None:
        # The engine's description starts with the hypothesis the sentence already names.
        null = str(result.get("lrt_test") or "").removeprefix("tau2 = 0, ")
        parts += [
            f"Likelihood-ratio test of τ² = 0{f' ({null})' if null else ''} for {name}: statistic ",
            num(result, src, "lrt_stat", "q_statistic"),
            ", p = ",
            num(result, src, "lrt_p", "p_value"),
            ". ",
        ]
    if is_primary and result.get("q_test"):
        parts += [f"Q of {name}: {result['q_test']}."]
    return parts


def subgroups_section(data: ReportData) -> list[Block]:
    plan = data.plan
    blocks: list[Block] = [Heading(2, "Subgroups", "subgroups")]
    if not plan.subgroups:
        return [*blocks, Paragraph(cell("No subgroups: the plan names none (config.yaml)."))]
    for outcome in plan.outcomes:
        primary = data.pooled[outcome]["primary"]
        for variable, var_label in plan.subgroups.items():
            levels = (primary.get("subgroups") or {}).get(variable) or {}
            if not levels:
                blocks.append(
                    Paragraph(
                        cell(f"{plan.outcome_label(outcome)}, {var_label}: no subgroup results.")
                    )
                )
                continue
            rows = []
            for level in sorted(levels):
                result = levels[level] or {}
                src = f"{file_src(outcome, 'primary')}{pointer('subgroups', variable, level)}"
                row = result_row(term(level, variable), result, src)
                rows.append(row)
            # The levels are fitted by the primary method: its interval's name heads the column.
            header = tuple(
                numbers.interval_kind(primary)[0] if h == "CI" else h for h in RESULT_HEADER[1:]
            )
            blocks.append(
                Table(
                    ("Level",) + header,
                    tuple(rows),
                    caption=f"{plan.outcome_label(outcome)} by {var_label.lower()} "
                    f"({plan.method_label('primary')})",
                )
            )
            blocks += subgroup_notes(data, outcome, variable)
    return blocks


def subgroup_notes(data: ReportData, outcome: str, variable: str) -> list[Block]:
    """The test of subgroup differences, and the studies left out of the variable (a study of
    several levels without patient rows, never counted twice), under a subgroup table."""
    primary = data.pooled[outcome]["primary"]
    blocks: list[Block] = []
    test = (primary.get("subgroup_differences") or {}).get(variable)
    if isinstance(test, dict) and test.get("statistic") is not None:
        src = f"{file_src(outcome, 'primary')}{pointer('subgroup_differences', variable)}"
        blocks.append(
            Paragraph(
                cell("Test of subgroup differences: ")
                + _statistic_df_p(test, src)
                + cell(
                    f" ({test.get('test', '')}). With so few studies a test like this can miss "
                    "real differences: its absence of significance is not evidence of no effect.",
                )
            )
        )
        blocks += _common_tau_test(test, src, variable)
        # Levels in the table that the test does not compare (a "not reported" level is not a
        # value of the variable): named, so that the degrees of freedom add up for the reader.
        shown = sorted(((primary.get("subgroups") or {}).get(variable) or {}).keys())
        tested = set(test.get("levels") or [])
        untested = [level for level in shown if level not in tested]
        if untested and tested:
            names = ", ".join(term(level, variable) for level in untested)
            blocks.append(
                Paragraph(
                    cell(
                        f"The test compares {len(tested)} of the {len(shown)} levels in the "
                        f"table; left out: {names} (not a value of the variable, or without an "
                        "estimate)."
                    )
                )
            )
    elif isinstance(test, dict):
        reason = str(test.get("note") or "fewer than two levels with an estimate")
        reason = reason.removeprefix("not computed: ")
        blocks.append(Paragraph(cell(f"Test of subgroup differences: not done ({reason}).")))
    left_out = (primary.get("subgroup_left_out") or {}).get(variable) or []
    for entry in left_out:
        sid = str(entry.get("study_id", "")) if isinstance(entry, dict) else str(entry)
        why = entry.get("reason", "") if isinstance(entry, dict) else ""
        blocks.append(
            Paragraph(
                cell(f"Left out of these subgroups: {study_label(sid, data.studies)} ({why}).")
            )
        )
    return blocks


def _statistic_df_p(test: dict, src: str) -> Cell:
    """``2.50 on 1 degrees of freedom, p = 0.114``, each number traced to ``src``."""
    return cell(
        num(test, src, "statistic", "q_statistic"),
        " on ",
        num(test, src, "df", "count"),
        " degrees of freedom, p = ",
        num(test, src, "p", "p_value"),
    )


def _common_tau_test(test: dict, src: str, variable: str) -> list[Block]:
    """The likelihood-ratio test with a common between-study variance, and the levels of a
    single study, whose own estimates say little on their between-study variation."""
    blocks: list[Block] = []
    lrt = test.get("glmm_lrt")
    lrt_src = f"{src}{pointer('glmm_lrt')}"
    if isinstance(lrt, dict) and lrt.get("statistic") is not None:
        blocks.append(
            Paragraph(
                cell(
                    "With one between-study variance shared by the levels (GLMM with the levels "
                    "as moderator, likelihood-ratio test): "
                )
                + _statistic_df_p(lrt, lrt_src)
                + cell(".")
            )
        )
    elif isinstance(lrt, dict):
        reason = str(lrt.get("note") or "no estimate").removeprefix("not computed: ")
        blocks.append(
            Paragraph(
                cell(
                    "The likelihood-ratio test with one between-study variance shared by the "
                    f"levels (GLMM) was not computed ({reason})."
                )
            )
        )
    single = test.get("single_study_levels") or []
    if single:
        names = ", ".join(term(level, variable) for level in single)
        blocks.append(
            Paragraph(
                cell(
                    f"{'One level has' if len(single) == 1 else f'{len(single)} levels have'} a "
                    f"single study ({names}): a single study cannot show how much studies of its "
                    "level vary, so its estimate and interval in this test lean on the model's "
                    "assumptions (the prior on tau for the Bayesian model, no variation for the "
                    "others)."
                )
            )
        )
    return blocks


def scenario_blocks(data: ReportData, outcome: str) -> list[Block]:
    plan = data.plan
    label = plan.outcome_label(outcome)
    blocks: list[Block] = []
    rows = []
    for scenario in plan.scenarios:
        result = data.pooled[outcome][scenario]
        src = file_src(outcome, scenario)
        estimate, ci, pi = estimate_cells(result, src)
        rows.append(
            (
                cell(plan.scenario_label(scenario)),
                cell(num(result, src, "k", "count")),
                events_cell(result, src),
                estimate,
                ci,
                pi,
                cell(applied_text(result.get("applied"), data.studies)),
                cell(str(len(result.get("excluded") or []))),
                # What the scenario's dataset is (e.g. counts that mix lesions and patients),
                # then the engine's warnings.
                notes_cell(
                    [*(result.get("scenario_notes") or []), *(result.get("warnings") or [])]
                ),
            )
        )
    blocks.append(
        Table(
            (
                "Scenario",
                "k",
                "Events/N",
                "Estimate",
                numbers.interval_kind(data.pooled[outcome]["primary"])[0],
                "PI",
                "Applied",
                "Excluded",
                "Notes",
            ),
            tuple(rows),
            caption=f"{label}: named scenarios ({plan.method_label('primary')})",
        )
    )
    return blocks


def leave_one_out_blocks(data: ReportData, outcome: str) -> list[Block]:
    plan = data.plan
    label = plan.outcome_label(outcome)
    blocks: list[Block] = []
    primary = data.pooled[outcome]["primary"]
    loo = primary.get("leave_one_out") or {}
    if loo:
        src0 = file_src(outcome, "primary")
        loo_rows = []
        for study_id in sorted(loo):
            src = f"{src0}{pointer('leave_one_out', study_id)}"
            estimate, ci, _ = estimate_cells(loo[study_id], src)
            loo_rows.append(
                (
                    cell(study_label(study_id, data.studies)),
                    cell(num(loo[study_id], src, "k", "count")),
                    events_cell(loo[study_id], src),
                    estimate,
                    ci,
                    warnings_cell(loo[study_id]),
                )
            )
        blocks.append(
            Table(
                ("Study left out", "k", "Events/N", "Estimate", numbers.interval_kind(primary)[0])
                + ("Notes",),
                tuple(loo_rows),
                caption=f"{label}: leave-one-out",
            )
        )
    return blocks


def cumulative_blocks(data: ReportData, outcome: str) -> list[Block]:
    plan = data.plan
    label = plan.outcome_label(outcome)
    blocks: list[Block] = []
    primary = data.pooled[outcome]["primary"]
    cumulative = primary.get("cumulative") or []
    if cumulative:
        src0 = file_src(outcome, "primary")
        cum_rows = []
        for i, step in enumerate(cumulative):
            src = f"{src0}{pointer('cumulative', str(i))}"
            estimate, ci, _ = estimate_cells(step, src)
            cum_rows.append(
                (
                    cell(study_label(str(step.get("added_study")), data.studies)),
                    (
                        cell(num(step, src, "year", "count"))
                        if step.get("year") is not None
                        else cell(NO_YEAR)
                    ),
                    cell(num(step, src, "k", "count")),
                    events_cell(step, src),
                    estimate,
                    ci,
                    warnings_cell(step),
                )
            )
        blocks.append(
            Table(
                ("Study added", "Year", "k", "Events/N", "Estimate")
                + (numbers.interval_kind(primary)[0], "Notes"),
                tuple(cum_rows),
                caption=f"{label}: cumulative analysis by publication year",
            )
        )
    return blocks


def sensitivity_section(data: ReportData) -> list[Block]:
    plan = data.plan
    blocks: list[Block] = [Heading(2, "Sensitivity analyses", "sensitivity")]
    for outcome in plan.outcomes:
        label = plan.outcome_label(outcome)
        blocks.append(Heading(3, label, anchor("sensitivity", outcome)))
        blocks += scenario_blocks(data, outcome) + leave_one_out_blocks(data, outcome)
        loo = plan.config.get("leave_one_out", True)
        blocks += figure_block(
            data,
            f"sensitivity_{outcome}",
            f"Sensitivity analyses, {label.lower()}: each scenario"
            + (" and each study left out" if loo else "")
            + " against the primary analysis.",
        )
        if plan.config.get("cumulative_by_year", True):
            blocks += cumulative_blocks(data, outcome)
            blocks += figure_block(
                data,
                f"cumulative_{outcome}",
                f"Cumulative analysis by publication year, {label.lower()}.",
            )
    off = [
        name
        for key, name in (
            ("leave_one_out", "leave-one-out"),
            ("cumulative_by_year", "cumulative analysis by year"),
        )
        if not plan.config.get(key, True)
    ]
    if off:
        # An analysis the plan turns off is said to be off, not shown as an empty figure.
        blocks.append(
            Paragraph(cell(f"Not run, as the plan sets (config.yaml): {'; '.join(off)}."))
        )
    return blocks
