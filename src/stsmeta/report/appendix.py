"""The appendices and the closing sections: decisions and flags, changes since the previous
version, how to cite, checksums.
"""

from __future__ import annotations

import hashlib

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import study_label
from stsmeta.report.base import (
    ReportData,
    data_date,
    estimate_with_ci,
    file_src,
    joined,
    num,
)
from stsmeta.report.document import (
    Block,
    Bullets,
    Code,
    Heading,
    Paragraph,
    Table,
    cell,
)
from stsmeta.report.previous import Previous


def changes_section(data: ReportData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Changes since the previous version", "changes")]
    previous = data.previous
    unavailable = data.plan.report.get("previous_unavailable")
    if previous is None and unavailable:
        blocks.append(
            Paragraph(
                cell(
                    f"Version {unavailable} was published before this one (archives.lock), but "
                    "its archive is not in results/archive/ here, so the changes since it are not "
                    f"listed. Put stsmeta-results-{unavailable}.tar.gz there and rerun to list "
                    "them."
                )
            )
        )
        return blocks
    if previous is None:
        blocks.append(Paragraph(cell("First version: no previous version was given.")))
        return blocks
    blocks.append(Paragraph(cell(f"Compared with version {previous.version} ({previous.source}).")))
    blocks.append(_study_changes(data, previous))
    blocks.append(_pooled_changes(data, previous))
    return blocks


def _comparable(study: dict) -> dict:
    return {k: v for k, v in study.items() if not k.startswith("_")}


def _study_changes(data: ReportData, previous: Previous) -> Bullets:
    """Studies added, removed and changed since ``previous``."""
    added = sorted(set(data.studies) - set(previous.studies))
    removed = sorted(set(previous.studies) - set(data.studies))
    changed = sorted(
        s
        for s in set(data.studies) & set(previous.studies)
        if _comparable(data.studies[s]) != _comparable(previous.studies[s])
    )
    return Bullets(
        (
            cell(
                "Studies added: " + (joined(study_label(s, data.studies) for s in added) or "none")
            ),
            cell(
                "Studies removed: "
                + (joined(study_label(s, previous.studies) for s in removed) or "none")
            ),
            cell(
                "Studies changed: "
                + (joined(study_label(s, data.studies) for s in changed) or "none")
            ),
        )
    )


def _pooled_changes(data: ReportData, previous: Previous) -> Table:
    """The primary estimate of each outcome and scenario, before and now."""
    plan = data.plan
    rows = []
    for outcome in plan.outcomes:
        for scenario in plan.scenarios:
            now = data.pooled[outcome][scenario]
            before = (previous.pooled.get(outcome) or {}).get(scenario)
            before_cell = (
                cell(
                    "k = ",
                    numbers.count(before.get("k")),
                    "; ",
                    numbers.estimate_with_interval(
                        before.get("estimate"), before.get("ci_low"), before.get("ci_high")
                    ),
                )
                if before is not None
                else cell("not in the previous version")
            )
            src = file_src(outcome, scenario)
            rows.append(
                (
                    cell(plan.outcome_label(outcome)),
                    cell(plan.scenario_label(scenario)),
                    before_cell,
                    cell("k = ", num(now, src, "k", "count"), "; ") + estimate_with_ci(now, src),
                )
            )
    return Table(
        ("Outcome", "Scenario", f"Version {previous.version}", "This version"),
        tuple(rows),
        caption=f"Pooled estimates before and after ({plan.method_label('primary')})",
    )


def fingerprint(data: ReportData) -> str:
    """SHA-256 over the analysis plan and the raw study files: one id for what went in.

    Derived files (pooled JSON, tables) are left out so that the id does not depend on the
    last digit a platform's floating point gives.
    """
    lines = [f"{data.checksums.get(data.plan.path, '')}  {data.plan.path}"]
    lines += [f"{data.studies[s].get('source_sha256') or ''}  {s}" for s in sorted(data.studies)]
    return hashlib.sha256(("\n".join(lines) + "\n").encode("utf-8")).hexdigest()


def citation_section(data: ReportData) -> list[Block]:
    plan = data.plan
    authors = joined(plan.report.get("authors") or []) or "stsmeta contributors"
    title = str(plan.report.get("title") or "stsmeta report")
    version = str(plan.report.get("version") or "")
    return [
        Heading(2, "How to cite these results", "cite"),
        Paragraph(
            cell(
                f"{authors}. {title}. Version {version} ({data_date(plan, data.studies)}). "
                f"Results directory stsmeta-results-{version}, input fingerprint "
                f"sha256:{fingerprint(data)}."
            )
        ),
        Paragraph(
            cell(
                "Cite the version and the fingerprint: they identify the analysis plan "
                "and the study files exactly (the fingerprint is the SHA-256 of the "
                "lines '<sha256 of config>  <config path>' and '<sha256 of study file>  "
                "<study id>', one per study in id order). Cite the methods references "
                "for the methods."
            )
        ),
    ]


def checksums_section(data: ReportData) -> list[Block]:
    rows = tuple((cell(path), cell(sha)) for path, sha in sorted(data.checksums.items()))
    raw = tuple(
        (cell(study_label(s, data.studies)), cell(str(data.studies[s].get("source_sha256") or "")))
        for s in sorted(data.studies)
    )
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(data.checksums.items()))
    return [
        Heading(2, "Checksums of the inputs", "checksums"),
        Table(("File", "SHA-256"), rows, caption="Files this report was made from"),
        Table(
            ("Study", "SHA-256 of the study file"),
            raw,
            caption="Raw study files (as recorded in the normalised studies)",
        ),
        Paragraph(cell("The same list in sha256sum format (check with `sha256sum -c`):")),
        Code(lines.rstrip("\n")),
    ]
