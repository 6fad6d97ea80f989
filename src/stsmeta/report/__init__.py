"""The summary report: one self-contained HTML file and the same content as Markdown.

``write_report`` reads the pooled results, the normalised studies, the tables, the figures
and the analysis plan, and writes ``report.html`` (figures embedded, no script, no network)
and ``report.md`` (figures linked by relative path). Nothing in it comes from the clock.
"""

from __future__ import annotations

from pathlib import Path


def _label_release(
    report: dict, label: str | None, changes: tuple[str, ...], unavailable: str | None = None
) -> None:
    """Print ``label`` as the version, with what differs from the published archive of
    ``report.version`` (set by the workflow: ``stsmeta.archive.release_status``), and the
    previous version whose archive is not available here, if any."""
    if label is not None:
        report["version"] = label
        report["unreleased_changes"] = list(changes)
    if unavailable is not None:
        report["previous_unavailable"] = unavailable


def write_report(
    *,
    config: Path | str,
    pool_dir: Path | str,
    normalised: list[Path | str],
    tables_dir: Path | str,
    figures_dir: Path | str,
    html: Path | str,
    md: Path | str,
    previous: Path | str | None = None,
    coverage: Path | str | None = None,
    screening: Path | str | None = None,
    certainty: Path | str | None = None,
    version_label: str | None = None,
    unreleased_changes: tuple[str, ...] = (),
    previous_unavailable: str | None = None,
) -> tuple[Path, Path]:
    """Build the report from files; return the paths written.

    ``coverage``: the summary JSON of ``stsmeta coverage-summary`` (optional); its heat map is
    ``<figures_dir>/coverage.svg``. ``screening``: the screening records (PRISMA flow,
    information sources, excluded and ongoing studies); ``certainty``: the GRADE judgements
    (schema ``stsmeta/schemas/certainty.schema.yaml``). Both optional: without them the report
    says what is not recorded.
    """
    from stsmeta.presentation.inputs import (
        InputFiles,
        load_coverage,
        load_normalised,
        load_plan,
        load_pooled,
        load_tables,
        with_selected_primary,
    )
    from stsmeta.presentation.screening import load_screening
    from stsmeta.report.certainty import load_certainty
    from stsmeta.report.content import ReportData, build_report
    from stsmeta.report.document import render_html, render_markdown
    from stsmeta.report.previous import load_previous
    from stsmeta.report.software import software_versions

    files = InputFiles()
    plan = load_plan(config, files)
    _label_release(plan.report, version_label, unreleased_changes, previous_unavailable)
    pooled = load_pooled(pool_dir, plan, files)
    plan = with_selected_primary(plan, pooled)  # labels of the method the rule chose
    studies = load_normalised(normalised, files)
    tables = load_tables(tables_dir, files)
    previous_data = None
    if previous is not None:
        previous_data = load_previous(previous, files.read_bytes(previous))
    coverage_doc = None if coverage is None else load_coverage(coverage, files)
    screening_doc = load_screening(screening, files)
    certainty_doc = load_certainty(certainty, files, plan.outcomes)
    figures = load_figures(figures_dir, plan.outcomes, with_coverage=coverage_doc is not None)
    data = ReportData(
        plan=plan,
        pooled=pooled,
        studies=studies,
        tables=tables,
        figures=figures,
        checksums=dict(files.checksums),
        software=software_versions(),
        previous=previous_data,
        coverage=coverage_doc,
        screening=screening_doc,
        certainty=certainty_doc,
    )
    blocks = build_report(data)
    title = str(plan.report.get("title") or "stsmeta report")
    html_path, md_path = Path(html), Path(md)
    for path in (html_path, md_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_html(blocks, title), encoding="utf-8", newline="\n")
    md_path.write_text(render_markdown(blocks, md_path), encoding="utf-8", newline="\n")
    return html_path, md_path


def load_figures(
    figures_dir: Path | str, outcomes: list[str], with_coverage: bool
) -> dict[str, tuple[Path, bytes]]:
    """Each figure's SVG path and bytes, by stem.

    Figures are outputs of this workflow, not inputs of the analysis: not in the checksums.
    HTML inlines each figure's SVG (small, sharp, its text selectable); Markdown links it.
    """
    from stsmeta.outputs import figure_stems
    from stsmeta.presentation.inputs import InputFiles

    figures = {}
    figure_files = InputFiles()
    stems = figure_stems(outcomes)
    if with_coverage and (Path(figures_dir) / "coverage.svg").is_file():
        stems.append("coverage")
    for stem in stems:
        path = Path(figures_dir) / f"{stem}.svg"
        figures[stem] = (path, figure_files.read_bytes(path))
    return figures
