"""The appendices and the closing sections: decisions and flags, changes since the previous
version, how to cite, checksums.
"""

from __future__ import annotations

import hashlib

from stsmeta.presentation import numbers
from stsmeta.presentation.inputs import Plan, study_label
from stsmeta.report.base import (
    PooledMethod,
    ReportData,
    author_names,
    data_date,
    estimate_with_ci,
    file_src,
    joined,
    num,
    pooled_methods,
    primary_outcome,
)
from stsmeta.report.document import (
    Block,
    Bullets,
    Cell,
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
    settings = _settings_changed(data, previous)
    if settings:
        # Said before the estimates: the same data pooled with other settings (a confidence
        # level, a prior, an estimator changed by the plan) is not a change in the evidence.
        blocks.append(
            Paragraph(
                cell(
                    f"The analysis settings changed since version {previous.version}: "
                    f"{'; '.join(settings)}. The estimates before and after below are "
                    "therefore not like for like."
                )
            )
        )
    blocks.append(_pooled_changes(data, previous))
    return blocks


def _comparable(study: dict) -> dict:
    return {k: v for k, v in study.items() if not k.startswith("_")}


# ---------------------------------------------------------------- studies


def _identifiers(study: dict) -> dict[str, str]:
    """The DOI and PMID a normalised record gives (``citation``), the DOI in lower case (DOIs
    are case-insensitive); an identifier the record does not give is left out, never matched."""
    citation = study.get("citation") or {}
    found = {kind: str(citation.get(kind) or "").strip() for kind in ("doi", "pmid")}
    found["doi"] = found["doi"].lower()
    return {kind: value for kind, value in found.items() if value}


def _renamed(before: dict[str, dict], now: dict[str, dict]) -> dict[str, str]:
    """``{previous id: current id}`` for a study whose id changed: a previous study gone and a
    new one with the same DOI, else the same PMID.

    An identifier matches only when one study of each version gives it: a study sharing an
    identifier with another study of either version is matched by no identifier (which study
    it became is not known), so it stays removed or added rather than be paired by a guess.
    """
    holders: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for side, studies in enumerate((before, now)):
        for study_id in sorted(studies):
            for kind, value in _identifiers(studies[study_id]).items():
                holders.setdefault((kind, value), ([], []))[side].append(study_id)
    shared = [
        {s for h in holders.values() if len(h[0]) > 1 or len(h[1]) > 1 for s in h[side]}
        for side in (0, 1)
    ]
    pairs: dict[str, str] = {}
    for kind in ("doi", "pmid"):
        for (found, _), (olds, news) in sorted(holders.items()):
            if found != kind or len(olds) != 1 or len(news) != 1:
                continue
            old, new = olds[0], news[0]
            if (
                old not in now
                and new not in before
                and old not in shared[0]
                and new not in shared[1]
                and old not in pairs
                and new not in pairs.values()
            ):
                pairs[old] = new
    return pairs


def _in_order(names, order: list[str]) -> list[str]:
    """``names`` in the analysis plan's ``order``, names it does not list after, by name."""
    return sorted(names, key=lambda n: (n not in order, order.index(n) if n in order else 0, n))


def _outcome_counts(study: dict) -> dict[str, dict]:
    return {str(o.get("outcome")): o for o in study.get("outcomes") or [] if isinstance(o, dict)}


def _counts_text(outcome: dict | None, with_unit: bool) -> str:
    if outcome is None:
        return "not reported"
    text = numbers.events_over_n(outcome.get("events"), outcome.get("n"))
    return f"{text} {outcome.get('unit')}" if with_unit else text


def _count_changes(before: dict, now: dict, plan: Plan) -> list[str]:
    """``complete remission 3/6 → 4/6`` for each harmonised outcome whose events, denominator or
    unit differ, then ``patients 6 → 7``: what a reader of the pooled results cares about."""
    was, is_ = _outcome_counts(before), _outcome_counts(now)
    changes = []
    for name in _in_order(set(was) | set(is_), plan.outcomes):
        a, b = was.get(name), is_.get(name)
        counts = [
            None if o is None else (o.get("events"), o.get("n"), o.get("unit")) for o in (a, b)
        ]
        if counts[0] == counts[1]:
            continue
        # The unit is said only when it changed (patients counted as lesions, say).
        with_unit = a is not None and b is not None and a.get("unit") != b.get("unit")
        changes.append(
            f"{plan.outcome_label(name).lower()} {_counts_text(a, with_unit)} → "
            f"{_counts_text(b, with_unit)}"
        )
    if before.get("n_patients") != now.get("n_patients"):
        changes.append(
            f"patients {numbers.count(before.get('n_patients'))} → "
            f"{numbers.count(now.get('n_patients'))}"
        )
    return changes


FIELD_WORDS = {
    "n_lesions": "lesions",
    "outcomes": "outcome details",
    "co_interventions": "co-interventions",
}


def _other_fields(before: dict, now: dict, said: frozenset[str]) -> list[str]:
    """The fields of the record that differ, in words, but those in ``said`` (told already)."""
    a, b = _comparable(before), _comparable(now)
    keys = sorted(k for k in set(a) | set(b) if k not in said and a.get(k) != b.get(k))
    return [FIELD_WORDS.get(k, k.replace("_", " ")) for k in keys]


def _and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


# The study file's SHA-256 is told by the kind of change; a rename tells the id and the label.
SAID_BY_KIND = frozenset({"source_sha256"})
SAID_BY_RENAME = frozenset({"source_sha256", "study_id", "label"})


def _changed_text(before: dict, now: dict, data: ReportData) -> str:
    """What changed in a study's record: its counts, else which other fields."""
    counts = _count_changes(before, now, data.plan)
    if counts:
        return ", ".join(counts)
    fields = _other_fields(before, now, SAID_BY_KIND)
    return f"only {_and_list(fields)} changed" if fields else "its record otherwise the same"


def _renamed_text(old: str, new: str, data: ReportData, previous: Previous) -> str:
    """``Old 2013 (now New 2013)``, saying what else changed in its record, if anything."""
    before, now = previous.studies[old], data.studies[new]
    was, is_ = study_label(old, previous.studies), study_label(new, data.studies)
    text = f"{was} (now {is_}" if was != is_ else f"{is_} (study id {old}, now {new}"
    also = _count_changes(before, now, data.plan)
    fields = _other_fields(before, now, SAID_BY_RENAME)
    if also or fields:
        text += f"; record also changed: {', '.join(also) if also else _and_list(fields)}"
    return text + ")"


def _change_kind(before: dict, now: dict) -> str:
    """Told apart by the study file's SHA-256 (``source_sha256``), so that a study file is never
    called changed when it is byte-identical."""
    sha_now, sha_before = now.get("source_sha256"), before.get("source_sha256")
    return (
        "unknown" if not (sha_now and sha_before) else "file" if sha_now != sha_before else "record"
    )


CHANGE_KINDS = ("file", "record", "unknown")


def _why(kind: str, one: bool, version: str) -> str:
    if kind == "file":
        return "study file changed" if one else "study files changed"
    if kind == "record":
        return (
            "study file unchanged; its normalised record differs through a setting or the software"
            if one
            else "study files unchanged; their normalised records differ through a setting "
            "or the software"
        )
    return (
        f"normalised record{'' if one else 's'} changed; version {version} does not record "
        "the SHA-256 of the study files it read"
    )


def _study_changes(data: ReportData, previous: Previous) -> Bullets:
    """Studies added, removed, renamed and changed since ``previous``.

    A changed study says why (a changed file, or the same file whose normalised record a
    setting or the software changed: the plausible concentration range changes flags, for
    one) and what: its counts before and now, else the other fields. Studies with the same
    why and what are listed together (a setting may change many records alike).
    """
    renamed = _renamed(previous.studies, data.studies)
    added = sorted(set(data.studies) - set(previous.studies) - set(renamed.values()))
    removed = sorted(set(previous.studies) - set(data.studies) - set(renamed))
    groups: dict[tuple[str, str], list[str]] = {}
    for s in sorted(set(data.studies) & set(previous.studies)):
        before, now = previous.studies[s], data.studies[s]
        if _comparable(before) != _comparable(now):
            key = (_change_kind(before, now), _changed_text(before, now, data))
            groups.setdefault(key, []).append(s)
    changed_text = "; ".join(
        f"{joined(study_label(s, data.studies) for s in studies)} "
        f"({_why(kind, len(studies) == 1, previous.version)}: {what})"
        for (kind, what), studies in sorted(
            groups.items(), key=lambda g: (CHANGE_KINDS.index(g[0][0]), g[1][0])
        )
    )
    items = [
        cell("Studies added: " + (joined(study_label(s, data.studies) for s in added) or "none")),
        cell(
            "Studies removed: "
            + (joined(study_label(s, previous.studies) for s in removed) or "none")
        ),
    ]
    if renamed:
        items.append(
            cell(
                "Studies renamed: "
                + "; ".join(_renamed_text(o, renamed[o], data, previous) for o in sorted(renamed))
            )
        )
    items.append(cell("Studies changed: " + (changed_text or "none")))
    return Bullets(tuple(items))


# ---------------------------------------------------------------- pooled results


def _same_method(a: PooledMethod, b: PooledMethod) -> bool:
    # The same method of the plan, and the same label where both results give one: the label
    # is what the table prints, so a number never appears under another method's label.
    return a[0] == b[0] and (a[1] is None or b[1] is None or a[1] == b[1])


def _result_cell(method: PooledMethod, src: str) -> Cell:
    """``k = 6, 10/13; 0.667 [0.384, 0.882]`` (events/N where the result gives them, so that a
    reader sees what the change in the estimate rests on); ``src`` the file's, the method's
    pointer added."""
    result, src = method[2], src + method[3]
    counts = (
        cell(", ", num(result, src, "events", "count"), "/", num(result, src, "n", "count"))
        if result.get("events") is not None and result.get("n") is not None
        else cell()
    )
    return (
        cell("k = ", num(result, src, "k", "count"))
        + counts
        + cell("; ")
        + estimate_with_ci(result, src)
    )


def _archived_src(previous: Previous, outcome: str, scenario: str) -> str:
    # The previous archive's pool folder (results/pool/ in it): a number of the previous version
    # is traced to where it was published, never to this version's results.
    return f"{previous.source}:pool/{file_src(outcome, scenario)}"


def _compared(data: ReportData, previous: Previous) -> list[tuple[str, str]]:
    """Every outcome and scenario of this version, then those only the previous version
    analysed (a scenario or an outcome dropped since must not vanish from the comparison)."""
    plan = data.plan
    now = [(o, s) for o in plan.outcomes for s in plan.scenarios]
    dropped = {(o, s) for o, by in previous.pooled.items() for s in by} - set(now)
    return now + [
        (o, s)
        for o in _in_order({o for o, _ in dropped}, plan.outcomes)
        for s in _in_order({s for d, s in dropped if d == o}, plan.scenarios)
    ]


def _row_labels(
    data: ReportData, previous: Previous, outcome: str, scenario: str
) -> tuple[str, str]:
    """The plan's labels, else (for what only the previous version analysed) its own."""
    plan = data.plan
    doc = (previous.pooled.get(outcome) or {}).get(scenario) or {}
    return (
        plan.outcome_label(outcome)
        if outcome in plan.outcomes
        else str(doc.get("outcome_label") or outcome),
        plan.scenario_label(scenario)
        if scenario in plan.scenarios
        else str(doc.get("scenario_label") or scenario),
    )


# The settings of a pooled result that the analysis plan sets, in words (``description``
# restates them; ``n_nodes``, ``profile_n_nodes`` and ``quadrature_check`` are chosen per fit
# from its data).
SETTING_WORDS = {
    "method": "model",
    "level": "interval level",
    "ci": "interval",
    "pi": "prediction interval",
    "tau2": "tau\u00b2 estimator",
    "transform": "transformation",
    "prior_mu": "prior on mu",
    "prior_tau": "prior on tau",
    "study_ci": "study intervals",
    "cc_add": "continuity correction",
    "cc_to": "continuity correction applied to",
}


def _setting_text(key: str, value: object) -> str:
    if value is None:
        return "none"
    return numbers.level(value) if key == "level" else str(value)


def _setting_changes(before: dict, now: dict) -> list[str]:
    """``interval level 95% → 90%`` for each setting of the plan that differs. Only results
    that both have numbers are compared: a result without them records the plan's settings
    only, where a fitted one adds those its engine filled in (a GLMM's tau² estimator)."""
    if not (numbers.is_estimable(before) and numbers.is_estimable(now)):
        return []
    a, b = before.get("settings") or {}, now.get("settings") or {}
    return [
        f"{words} {_setting_text(key, a.get(key))} → {_setting_text(key, b.get(key))}"
        for key, words in SETTING_WORDS.items()
        if key in a and key in b and a[key] != b[key]
    ]


def _settings_changed(data: ReportData, previous: Previous) -> list[str]:
    """What changed in the settings of the methods both versions computed, each change once
    with the methods it concerns (every outcome and scenario pools with the same settings):
    ``interval level 95% → 90% (every method)``."""
    concerns: dict[str, dict[str, None]] = {}
    compared: dict[str, None] = {}
    for outcome, scenario in _compared(data, previous):
        now = (data.pooled.get(outcome) or {}).get(scenario)
        before = (previous.pooled.get(outcome) or {}).get(scenario)
        if now is None or before is None:
            continue
        earlier = pooled_methods(before)
        for method in pooled_methods(now):
            match = next((m for m in earlier if _same_method(m, method)), None)
            if match is None:
                continue
            label = str(method[1] or method[0])
            compared[label] = None
            for change in _setting_changes(match[2], method[2]):
                concerns.setdefault(change, {})[label] = None
    every = compared.keys()
    return [
        f"{change} ({'every method' if labels.keys() == every else _and_list(list(labels))})"
        for change, labels in concerns.items()
    ]


def _levels(docs) -> str:
    """``95%`` (or ``95% and 90%``): the interval levels of the pooled results ``docs``."""
    found = (d.get("confidence_level", (d.get("settings") or {}).get("level")) for d in docs)
    levels = sorted({float(v) for v in found if isinstance(v, int | float)}, reverse=True)
    return " and ".join(numbers.level(v) for v in levels) or "unknown"


def _pooled_changes(data: ReportData, previous: Previous) -> Table:
    """The primary estimate of each outcome and scenario, before and now, by the same method.

    When the primary method of the previous version was another one (the plan's rule chooses
    it from the coverage study, and may choose differently), "before" is the previous
    version's result of this version's primary method, where it computed that method, and the
    caption says that the primary method changed; a column then gives the previous version's
    own primary results as published, the numbers its readers saw and may have cited.
    """
    plan = data.plan
    label = plan.method_label("primary")
    reference = pooled_methods(data.pooled[primary_outcome(plan)]["primary"])[0]
    version = previous.version
    was: list[str] = []  # the previous version's primary methods, where they differ
    rows = []
    for outcome, scenario in _compared(data, previous):
        now = (data.pooled.get(outcome) or {}).get(scenario)
        before = (previous.pooled.get(outcome) or {}).get(scenario)
        current = pooled_methods(now)[0] if now is not None else reference
        published = before_cell = cell("not in the previous version")
        if before is not None:
            earlier = pooled_methods(before)
            src = _archived_src(previous, outcome, scenario)
            if not _same_method(earlier[0], current):
                was.append(earlier[0][1] or earlier[0][0])
            published = _result_cell(earlier[0], src)
            match = next((m for m in earlier if _same_method(m, current)), None)
            before_cell = (
                _result_cell(match, src)
                if match is not None
                else cell(f"not computed in version {version}")
            )
        now_cell = (
            _result_cell(current, file_src(outcome, scenario))
            if now is not None
            else cell("not analysed in this version")
        )
        outcome_label, scenario_label = _row_labels(data, previous, outcome, scenario)
        rows.append((cell(outcome_label), cell(scenario_label), published, before_cell, now_cell))
    header = ("Outcome", "Scenario", f"Version {version}", "This version")
    levels = (_levels(_docs(previous.pooled)), _levels(_docs(data.pooled)))
    if levels[0] != levels[1]:
        # Intervals at two levels side by side: each column says its own.
        header = (
            *header[:2],
            f"Version {version} ({levels[0]} intervals)",
            f"This version ({levels[1]} intervals)",
        )
    if not was:
        # "Before" is the previous version's primary result itself: no column repeats it.
        return Table(
            header,
            tuple(row[:2] + row[3:] for row in rows),
            caption=f"Pooled estimates before and after ({label})",
        )
    earlier_labels = " and ".join(dict.fromkeys(was))
    return Table(
        header[:2] + (f"Version {version} as published, by {earlier_labels}",) + header[2:],
        tuple(rows),
        caption=(
            f"Pooled estimates before and after, both by {label}: the primary method changed "
            f"from {earlier_labels} in version {version} to {label} in this version; 'as "
            f"published' gives version {version}'s own primary results, as its readers saw them"
        ),
    )


def _docs(pooled: dict[str, dict[str, dict]]) -> list[dict]:
    return [doc for by in pooled.values() for doc in by.values() if isinstance(doc, dict)]


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
    authors = author_names(plan.report.get("authors")) or "stsmeta contributors"
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
        Paragraph(
            cell("The same list in sha256sum format (check it with the command sha256sum -c):")
        ),
        Code(lines.rstrip("\n")),
    ]
