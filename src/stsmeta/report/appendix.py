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
from stsmeta.selection import CONFIGURED_PRIMARY


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
    """Studies added, removed and changed since ``previous``.

    A changed study is told apart by its study file's SHA-256 (``source_sha256``): a changed
    file, or the same file whose normalised record a setting or the software changed (the
    plausible concentration range changes flags, for one), so that a study file is never
    called changed when it is byte-identical.
    """
    added = sorted(set(data.studies) - set(previous.studies))
    removed = sorted(set(previous.studies) - set(data.studies))
    changed = sorted(
        s
        for s in set(data.studies) & set(previous.studies)
        if _comparable(data.studies[s]) != _comparable(previous.studies[s])
    )
    by_kind: dict[str, list[str]] = {"file": [], "record": [], "unknown": []}
    for s in changed:
        now = data.studies[s].get("source_sha256")
        before = previous.studies[s].get("source_sha256")
        kind = "unknown" if not (now and before) else "file" if now != before else "record"
        by_kind[kind].append(s)

    def why(kind: str) -> str:
        one = len(by_kind[kind]) == 1
        if kind == "file":
            return "study file changed" if one else "study files changed"
        if kind == "record":
            return (
                "study file unchanged; its normalised record differs through a setting or the "
                "software"
                if one
                else "study files unchanged; their normalised records differ through a setting "
                "or the software"
            )
        return (
            f"normalised record{'' if one else 's'} changed; version {previous.version} does "
            "not record the SHA-256 of the study files it read"
        )

    changed_text = "; ".join(
        f"{joined(study_label(s, data.studies) for s in studies)} ({why(kind)})"
        for kind, studies in by_kind.items()
        if studies
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
            cell("Studies changed: " + (changed_text or "none")),
        )
    )


# One method's result in a pooled JSON: (name in the plan, label or None, the result).
Method = tuple[str, str | None, dict]


def _methods(doc: dict) -> list[Method]:
    """Every method of a pooled result, the primary first, named as the plan names them: the
    primary by the method the plan's rule chose, the configured primary as "primary" wherever
    the rule put it (among the secondary methods as CONFIGURED_PRIMARY)."""
    chosen = (doc.get("primary_selection") or {}).get("method") or "primary"
    found: list[Method] = [(str(chosen), doc.get("method_label"), doc)]
    for name, result in (doc.get("secondary") or {}).items():
        if isinstance(result, dict):
            plan_name = "primary" if name == CONFIGURED_PRIMARY else str(name)
            found.append((plan_name, result.get("label"), result))
    return found


def _same_method(a: Method, b: Method) -> bool:
    # The same method of the plan, and the same label where both results give one: the label
    # is what the table prints, so a number never appears under another method's label.
    return a[0] == b[0] and (a[1] is None or b[1] is None or a[1] == b[1])


def _pooled_changes(data: ReportData, previous: Previous) -> Table:
    """The primary estimate of each outcome and scenario, before and now, by the same method.

    When the primary method of the previous version was another one (the plan's rule chooses
    it from the coverage study, and may choose differently), "before" is the previous
    version's result of this version's primary method, where it computed that method, and the
    caption says that the primary method changed.
    """
    plan = data.plan
    label = plan.method_label("primary")
    was: list[str] = []  # the previous version's primary methods, where they differ
    rows = []
    for outcome in plan.outcomes:
        for scenario in plan.scenarios:
            now = data.pooled[outcome][scenario]
            before = (previous.pooled.get(outcome) or {}).get(scenario)
            if before is None:
                before_cell = cell("not in the previous version")
            else:
                current = _methods(now)[0]
                earlier = _methods(before)
                if not _same_method(earlier[0], current):
                    was.append(earlier[0][1] or earlier[0][0])
                match = next((m[2] for m in earlier if _same_method(m, current)), None)
                before_cell = (
                    cell(
                        "k = ",
                        numbers.count(match.get("k")),
                        "; ",
                        numbers.estimate_with_interval(
                            match.get("estimate"), match.get("ci_low"), match.get("ci_high")
                        ),
                    )
                    if match is not None
                    else cell(f"not computed in version {previous.version}")
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
    caption = f"Pooled estimates before and after ({label})"
    if was:
        earlier_labels = " and ".join(dict.fromkeys(was))
        caption = (
            f"Pooled estimates before and after, both by {label}: the primary method changed "
            f"from {earlier_labels} in version {previous.version} to {label} in this version"
        )
    return Table(
        ("Outcome", "Scenario", f"Version {previous.version}", "This version"),
        tuple(rows),
        caption=caption,
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
