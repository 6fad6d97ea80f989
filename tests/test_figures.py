"""Figures: structure (rows, labels, numbers as text), no overlap, robustness, determinism.

Uses the SYNTHETIC fixtures of tests/fixtures/pooled (see its README). Structure is checked
through the rows the plot functions return and the text artists they draw, never by pixels.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from pathlib import Path

import pytest

from stsmeta.errors import InputError
from stsmeta.figures.cumulative import cumulative_plot
from stsmeta.figures.forest import forest_plot
from stsmeta.figures.glyphs import GlyphText
from stsmeta.figures.risk_of_bias import risk_of_bias_plot
from stsmeta.figures.sensitivity import sensitivity_plot
from stsmeta.figures.style import figure_style, save_figure
from stsmeta.outputs import figure_stems
from stsmeta.presentation import numbers
from stsmeta.presentation.risk_of_bias import QUESTIONS

FIXTURES = Path(__file__).parent / "fixtures" / "pooled"


def draw_forest(plan, result, studies):
    with figure_style():
        return forest_plot(
            result,
            studies,
            outcome_label="Complete remission",
            primary_label=plan.method_label("primary"),
            secondary_labels={m: plan.method_label(m) for m in plan.secondary_methods},
            subgroup_variable="calcinosis_type",
            subgroup_label="Calcinosis type",
        )


def glyph_texts(figure) -> list[GlyphText]:
    return [a for a in figure.artists if isinstance(a, GlyphText)]


def all_texts(figure) -> list[str]:
    """Every text drawn: Text artists and the blocks drawn as glyph outlines."""
    texts = [t.get_text() for t in figure.texts]
    for ax in figure.axes:
        texts += [t.get_text() for t in ax.texts]
    for glyphs in glyph_texts(figure):
        texts += glyphs.get_texts()
    return texts


@pytest.mark.parametrize("outcome", ["complete_remission", "any_response"])
@pytest.mark.parametrize("scenario", ["primary", "with_systemic_sts"])
def test_forest_plot_has_one_row_per_study_with_its_numbers(inputs, outcome, scenario):
    plan, pooled, studies = inputs
    result = pooled[outcome][scenario]
    plot = draw_forest(plan, result, studies)
    study_rows = plot.rows_of("study")
    assert sorted(r.row.study_id for r in study_rows) == sorted(
        e["study"] for e in result["studies"]
    )
    text = "\n".join(all_texts(plot.figure))
    flat = text.replace("\n", " ")
    for entry in result["studies"]:
        label = studies[entry["study"]]["label"]
        # Labels may wrap across lines: every word must be there.
        assert all(word in flat for word in label.replace("-", " ").split())
        assert (
            numbers.estimate_with_interval(entry["proportion"], entry["ci_low"], entry["ci_high"])
            in text
        )
        assert numbers.events_over_n(entry["events"], entry["n"]) in text
    # Grouped by calcinosis type: the block headings say each study's type, no column repeats it.
    assert "Calcinosis type" not in flat
    # Subgroup blocks: one pooled diamond row per subgroup level of more than one study; a
    # level of one study is that study's row (no diamond of the model's assumption), and a note
    # says so.
    levels = result["subgroups"]["calcinosis_type"].values()
    assert len(plot.rows_of("subgroup_pooled")) == sum(r.get("k") != 1 for r in levels)
    assert all("(k = 1)" not in r.row.label for r in plot.rows_of("subgroup_pooled"))
    assert ("A subgroup of one study has no pooled diamond" in flat) == any(
        r.get("k") == 1 for r in levels
    )


def test_forest_plot_shows_every_method_prediction_and_heterogeneity(inputs):
    plan, pooled, studies = inputs
    result = pooled["complete_remission"]["primary"]
    plot = draw_forest(plan, result, studies)
    assert len(plot.rows_of("pooled")) == 1
    secondary = plot.rows_of("secondary")
    assert [r.row.label for r in secondary] == [
        plan.method_label(m) for m in plan.secondary_methods
    ]
    text = "\n".join(all_texts(plot.figure))
    for sec in result["secondary"].values():
        assert (
            numbers.estimate_with_interval(sec["estimate"], sec["ci_low"], sec["ci_high"]) in text
        )
    assert numbers.interval(result["pi_low"], result["pi_high"]) in text
    assert f"τ² = {numbers.tau2(result['tau2'])}" in text
    if result["i2"] is None:
        assert "I² not defined for this model" in text
    else:
        assert f"I² = {numbers.i2(result['i2'])}" in text
    # The test of homogeneity named for what it is: a likelihood-ratio statistic is not Q.
    test = "LR χ²" if str(result.get("q_test", "")).startswith("likelihood ratio") else "Q"
    assert f"{test} = {numbers.q_statistic(result['q'])}" in text
    flat = text.replace("\n", " ")
    assert "Primary: " in text and "Dotted line: the primary method's estimate" in flat
    # Rows run top to bottom: studies, then pooled, then secondary, then the prediction row.
    ys = {r.row.kind: r.y for r in plot.rows}
    assert ys["study"] > ys["pooled"] > ys["secondary"] > ys["prediction"]
    # A 0-1 proportion axis.
    lo, hi = plot.axes.get_xlim()
    assert lo <= 0 and hi >= 1 and lo > -0.1 and hi < 1.1


def test_marker_area_grows_with_n(inputs):
    plan, pooled, studies = inputs
    result = pooled["complete_remission"]["primary"]
    plot = draw_forest(plan, result, studies)
    sizes = {}
    for collection in plot.axes.collections:
        if hasattr(collection, "get_sizes") and len(collection.get_sizes()) > 1:
            for (_, y), size in zip(collection.get_offsets(), collection.get_sizes(), strict=True):
                sizes[round(float(y), 6)] = float(size)
    by_n = sorted((r.row.n, sizes[round(r.y, 6)]) for r in plot.rows_of("study"))
    assert len({n for n, _ in by_n}) > 1
    for (n1, s1), (n2, s2) in itertools.pairwise(by_n):
        assert s1 <= s2 if n1 <= n2 else s1 >= s2
    assert by_n[0][1] < by_n[-1][1]


def assert_no_overlap(plot) -> None:
    """No two texts overlap, none runs into the plot area, none leaves the figure."""
    figure = plot.figure
    with figure_style():
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        artists = [t for t in figure.texts if t.get_text().strip()]
        artists += [t for t in plot.axes.texts if t.get_text().strip()]
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in artists]
        for glyphs in glyph_texts(figure):
            boxes += [(text, box) for text, box in glyphs.window_extents() if text.strip()]
        axes_box = plot.axes.get_window_extent(renderer)
    assert len(boxes) > 10
    for (text_a, a), (text_b, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"{text_a!r} overlaps {text_b!r}"
    for text, box in boxes:
        assert not box.overlaps(axes_box), f"{text!r} runs into the plot"
        assert box.x0 >= 0 and box.x1 <= figure.bbox.x1, f"{text!r} leaves the figure"


def test_long_scenario_labels_never_overlap(inputs):
    plan, pooled, studies = inputs
    scenarios = {s: pooled["complete_remission"][s] for s in plan.scenarios}
    long = "Wwwwwwww Mmmmmmmmmm-Wwwwwwwwwwww Wwwwwwww Mmmmmmmmmm-Wwwwwwwwwwww (WWWW)"
    with figure_style():
        plot = sensitivity_plot(
            scenarios,
            scenario_labels={s: f"{long} {s}" for s in plan.scenarios},
            studies=studies,
            outcome_label="Complete remission",
            primary_label=long,
        )
    assert_no_overlap(plot)


def test_long_labels_never_overlap(inputs):
    plan, pooled, studies = inputs
    studies = copy.deepcopy(studies)
    result = copy.deepcopy(pooled["complete_remission"]["primary"])
    for study in studies.values():
        study["label"] = "Wwwwwwww Mmmmmmmmmm-Wwwwwwwwwwww " * 3 + str(study["year"])
        study["calcinosis_types"] = ["dystrophic", "calcinosis universalis with ulceration"]
    assert_no_overlap(draw_forest(plan, result, studies))


def test_not_estimable_results_are_shown_with_their_reason(inputs):
    plan, pooled, studies = inputs
    result = pooled["complete_remission"]["literal_concentration"]
    assert result["estimate"] is None
    plot = draw_forest(plan, result, studies)
    text = " ".join(all_texts(plot.figure)).replace("\n", " ")
    pooled_row = plot.rows_of("pooled")[0]
    assert pooled_row.row.cells["estimate"] == numbers.NOT_ESTIMABLE
    assert "SYNTHETIC: too few studies" in text
    # A result with no studies at all still draws.
    empty = {"k": 0, "studies": [], "estimate": None, "warnings": ["not estimable: k = 0"]}
    plot = draw_forest(plan, empty, studies)
    assert plot.rows_of("study") == []


def test_text_with_dollar_signs_is_not_mathtext(inputs, tmp_path):
    plan, pooled, studies = inputs
    studies = copy.deepcopy(studies)
    next(iter(studies.values()))["label"] = r"Cost $5 and $\frac{1}{0 2017"
    plot = draw_forest(plan, pooled["complete_remission"]["primary"], studies)
    save_figure(plot.figure, tmp_path, "dollar")  # mathtext would raise on the bad TeX
    assert (tmp_path / "dollar.png").stat().st_size > 0


def test_sensitivity_plot_has_a_row_per_scenario_and_study_left_out(inputs):
    plan, pooled, studies = inputs
    scenarios = {s: pooled["complete_remission"][s] for s in plan.scenarios}
    with figure_style():
        plot = sensitivity_plot(
            scenarios,
            scenario_labels={s: plan.scenario_label(s) for s in plan.scenarios},
            studies=studies,
            outcome_label="Complete remission",
            primary_label="GLMM",
        )
    named = [r.row.label for r in plot.rows if r.row.kind in ("primary", "scenario")]
    assert named == [plan.scenario_label(s) for s in plan.scenarios]
    loo = [r.row.study_id for r in plot.rows_of("leave_one_out")]
    assert sorted(loo) == sorted(scenarios["primary"]["leave_one_out"])


def test_two_scenarios_with_the_same_studies_and_counts_are_said_to_be_the_same(inputs):
    import copy

    plan, pooled, studies = inputs
    scenarios = {s: copy.deepcopy(pooled["complete_remission"][s]) for s in plan.scenarios}
    first, second = [s for s in plan.scenarios if s != "primary"][:2]
    kept = [{"study_id": "syn-a", "events": 1, "n": 2}, {"study_id": "syn-b", "events": 3, "n": 3}]
    for name in (first, second):  # SYNTHETIC: the same studies and counts in both
        scenarios[name]["included_studies"] = copy.deepcopy(kept)
    labels = {s: plan.scenario_label(s) for s in plan.scenarios}
    with figure_style():
        plot = sensitivity_plot(
            scenarios,
            scenario_labels=labels,
            studies=studies,
            outcome_label="Complete remission",
            primary_label="GLMM",
        )
    text = " ".join(all_texts(plot.figure)).replace("\n", " ")
    said = f"{labels[second]}: the same studies and counts as {labels[first]}, so the same result."
    assert " ".join(said.split()) in " ".join(text.split())
    assert text.count("the same studies and counts as") == 1


def test_cumulative_plot_follows_the_cumulative_list(inputs):
    plan, pooled, studies = inputs
    result = pooled["any_response"]["primary"]
    with figure_style():
        plot = cumulative_plot(
            result, studies=studies, outcome_label="Any response", primary_label="GLMM"
        )
    steps = result["cumulative"]
    assert [r.row.study_id for r in plot.rows] == [s["added_study"] for s in steps]
    assert [r.row.cells["k"] for r in plot.rows] == [str(s["k"]) for s in steps]
    # Undated studies come last, and the plot says so when there are any.
    text = " ".join(all_texts(plot.figure)).replace("\n", " ")
    undated = any(s.get("year") is None for s in steps)
    assert ("without a known publication year (n.d.) are added last" in text) == undated


def test_risk_of_bias_chart_has_every_study_and_question(inputs):
    _, _, studies = inputs
    with figure_style():
        plot = risk_of_bias_plot(studies)
    assert len(plot.cells) == len(studies) * len(QUESTIONS)
    for study_id, question, judgement in plot.cells:
        assert studies[study_id]["risk_of_bias"][question]["judgement"] == judgement
    labels = list(plot.labels)
    assert all(label in all_texts(plot.figure) for label in labels)
    # Wrapped labels: lines ending in a hyphen were broken there, others at a space.
    unwrapped = [label.replace("-\n", "-").replace("\n", " ") for label in labels]
    assert sorted(unwrapped) == sorted(s["label"] for s in studies.values())


def test_risk_of_bias_domains_are_ruled_over_their_questions_and_the_legend_shows_what_is_used(
    inputs,
):
    from matplotlib.lines import Line2D

    from stsmeta.presentation.risk_of_bias import DOMAINS

    _, _, studies = inputs
    with figure_style():
        plot = risk_of_bias_plot(studies)
    rules = sorted(
        (float(a.get_xdata()[0]), float(a.get_xdata()[1]))
        for a in plot.figure.artists
        if isinstance(a, Line2D)
    )
    assert len(rules) == len(DOMAINS) + 1  # and one over the judgement columns
    assert all(a < b for a, b in rules)
    assert all(b1 < a2 for (_, b1), (a2, _) in zip(rules, rules[1:], strict=False))
    text = " ".join(all_texts(plot.figure))
    used = {key for *_, key in plot.cells} | {key for *_, key in plot.domain_cells}
    assert ("Not assessed" in text) == ("not assessed" in used)
    # Every study and question judged: no legend entry for what the chart does not show.
    judged = copy.deepcopy(studies)
    for study in judged.values():
        rob = study["risk_of_bias"]
        for domain in ("selection", "ascertainment", "causality", "reporting"):
            rob.setdefault("domains", {})[domain] = {"judgement": "low"}
        rob["overall"] = {"judgement": "low"}
    with figure_style():
        plot = risk_of_bias_plot(judged)
    assert "not assessed" not in {key for *_, key in plot.cells}  # every question judged
    assert "Not assessed" not in " ".join(all_texts(plot.figure))


def test_risk_of_bias_chart_shows_domains_and_overall(inputs):
    _, _, studies = inputs
    studies = copy.deepcopy(studies)
    first = next(iter(studies))
    studies[first]["risk_of_bias"]["domains"] = {
        "selection": {"judgement": "high", "reason": "SYNTHETIC"},
        "causality": {"judgement": "some_concerns", "reason": "SYNTHETIC"},
    }
    studies[first]["risk_of_bias"]["overall"] = {"judgement": "high", "reason": "SYNTHETIC"}
    with figure_style():
        plot = risk_of_bias_plot(studies)
    cells = {(s, d): j for s, d, j in plot.domain_cells}
    assert len(cells) == len(studies) * 5
    assert cells[(first, "selection")] == "high"
    assert cells[(first, "causality")] == "some_concerns"
    assert cells[(first, "ascertainment")] == "not assessed"
    assert cells[(first, "overall")] == "high"
    studies[first]["risk_of_bias"]["overall"]["judgement"] = "moderate-ish"
    with pytest.raises(InputError) as info:
        risk_of_bias_plot(studies)
    assert info.value.problems[0].field == "risk_of_bias.overall.judgement"


def test_risk_of_bias_rejects_an_unknown_judgement(inputs):
    _, _, studies = inputs
    studies = copy.deepcopy(studies)
    study = next(iter(studies.values()))
    study["risk_of_bias"]["q3"]["judgement"] = "probably"
    with pytest.raises(InputError) as info:
        risk_of_bias_plot(studies)
    problem = info.value.problems[0]
    assert problem.field == "risk_of_bias.q3.judgement"
    assert "'probably'" in problem.message and "unclear" in problem.message


def test_figure_files_are_byte_identical_across_runs(inputs, tmp_path):
    plan, pooled, studies = inputs
    for run in ("a", "b"):
        plot = draw_forest(plan, pooled["complete_remission"]["primary"], studies)
        save_figure(plot.figure, tmp_path / run, "forest")
        with figure_style():
            save_figure(risk_of_bias_plot(studies).figure, tmp_path / run, "rob")
    for name in ("forest.png", "forest.svg", "forest.pdf", "rob.png", "rob.svg", "rob.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    svg = (tmp_path / "a" / "forest.svg").read_text()
    assert "<dc:date>" not in svg
    pdf = (tmp_path / "a" / "forest.pdf").read_bytes()
    assert b"/CreationDate" not in pdf and b"/Producer" not in pdf
    png = (tmp_path / "a" / "forest.png").read_bytes()
    assert b"Software" not in png
    # 300 dpi: pHYs holds pixels per metre, 300 / 0.0254 = 11811.
    index = png.index(b"pHYs")
    assert int.from_bytes(png[index + 4 : index + 8], "big") == 11811


def test_cli_writes_every_figure(tmp_path, capsys):
    from stsmeta.cli import main

    out = tmp_path / "figures"
    summary = str(FIXTURES / "results" / "coverage" / "summary.json")
    args = [
        "figures",
        "--config", str(FIXTURES / "config.yaml"),
        "--pool-dir", str(FIXTURES / "results" / "pool"),
        "--studies", *map(str, sorted((FIXTURES / "results" / "normalised").glob("*.json"))),
        "--outdir", str(out),
        "--coverage", summary,
        "--processes", "2",
    ]  # fmt: skip
    assert main(args) == 0
    expected = {
        f"{stem}.{fmt}"
        for stem in [*figure_stems(["complete_remission", "any_response"]), "coverage"]
        for fmt in ("png", "svg", "pdf")
    }
    assert {p.name for p in out.iterdir()} == expected
    # The heat map saved by the figures job's workers is the one `coverage-figure` writes.
    alone = [str(tmp_path / "alone" / f"coverage.{fmt}") for fmt in ("png", "svg", "pdf")]
    assert main(["coverage-figure", summary, "-o", *alone]) == 0
    for path in map(Path, alone):
        assert path.read_bytes() == (out / path.name).read_bytes(), path.name

    # The workflow's two jobs: SVG (the default target), then PNG and PDF with the record of
    # the SVGs they go with. The same bytes as drawn all at once.
    split = tmp_path / "split"
    common = [a if a != str(out) else str(split) for a in args]
    record = split / "print-record.sha256"
    with_record = [*common, "--formats", "png", "pdf", "--print-record", str(record)]
    assert main(with_record) == 2  # the SVGs are not drawn yet: refused, nothing written
    assert "needs the SVGs drawn first" in capsys.readouterr().err
    assert not split.exists() or not any(split.iterdir())
    assert main([*common, "--formats", "svg"]) == 0
    assert {p.suffix for p in split.iterdir()} == {".svg"}
    assert main(with_record) == 0
    assert {p.name for p in split.iterdir()} == expected | {record.name}
    for name in expected:
        assert (split / name).read_bytes() == (out / name).read_bytes(), name
    drawn_by, *lines = record.read_text().splitlines()
    assert drawn_by.startswith("# drawn by ") and len(drawn_by) == len("# drawn by ") + 64
    assert len(lines) == len(expected) // 3
    for line in lines:
        sha, name = line.split("  ")
        assert (
            Path(name).suffix == ".svg"
            and sha == hashlib.sha256(Path(name).read_bytes()).hexdigest()
        )
    # Drawing the SVGs in the same run, the record needs none there before.
    again = tmp_path / "again"
    together = [*(a if a != str(out) else str(again) for a in args), "--print-record"]
    together.append(str(again / record.name))
    assert main(together) == 0
    assert (again / record.name).read_text() == record.read_text().replace(str(split), str(again))


def test_cli_names_a_missing_pooled_file(tmp_path, capsys):
    from stsmeta.cli import main

    pooled = tmp_path / "pool"
    for path in (FIXTURES / "results" / "pool").rglob("*.json"):
        target = pooled / path.relative_to(FIXTURES / "results" / "pool")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (pooled / "any_response" / "with_systemic_sts.json").unlink()
    code = main(
        [
            "figures",
            "--config", str(FIXTURES / "config.yaml"),
            "--pool-dir", str(pooled),
            "--studies", *map(str, sorted((FIXTURES / "results" / "normalised").glob("*.json"))),
            "--outdir", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "any_response/with_systemic_sts.json" in err and "stsmeta pool --outcome" in err


def test_a_study_without_a_year_is_last_and_marked_nd(inputs):
    plan, pooled, studies = inputs
    undated = {s for s, d in studies.items() if d.get("year") is None}
    assert undated  # the synthetic fixtures hold one (eta-nd)
    result = pooled["complete_remission"]["primary"]
    plot = draw_forest(plan, result, studies)
    seen_undated = False
    for placed in plot.rows:
        if placed.row.kind == "subgroup":
            seen_undated = False
        elif placed.row.kind == "study":
            is_undated = placed.row.study_id in undated
            assert not (seen_undated and not is_undated), "dated study after an undated one"
            seen_undated = seen_undated or is_undated
    # Subgroup labels are vocabulary wording, not ids.
    texts = all_texts(plot.figure)
    assert not any("_" in t for t in texts if t.startswith("Subgroup "))
    # The cumulative plot: the undated study is added last and labelled n.d.
    with figure_style():
        cumulative = cumulative_plot(
            result, studies=studies, outcome_label="Complete remission", primary_label="GLMM"
        )
    assert cumulative.rows[-1].row.study_id in undated
    assert "n.d." in cumulative.rows[-1].row.label


def test_pdf_font_subsets_carry_no_layout_tables():
    # The PDF's embedded font is subset without GSUB/GPOS/GDEF/kern (nothing in a PDF reads
    # them, and parsing them was a fifth of the figures job); glyph outlines stay.
    import matplotlib.backends._backend_pdf_ps as pdf_ps
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    import stsmeta.figures.style  # noqa: F401 - installs the wrapper

    path = font_manager.findfont("DejaVu Sans")
    font = FT2Font(path)
    glyphs = {font.get_char_index(ord(c)) for c in "Study 95% CI"}
    fontfile = getattr(font_manager, "FontPath", None)
    arg = fontfile(path, 0) if fontfile is not None else path
    with pdf_ps.get_glyphs_subset(arg, glyphs) as (subset, *_):
        tables = set(subset.keys())
    assert {"glyf", "cmap", "hmtx"} <= tables
    assert not tables & {"GSUB", "GPOS", "GDEF", "kern"}


def test_a_method_known_to_mislead_is_marked_in_the_forest_plot(inputs):
    """The report leaves such a method out of the quoted range; the plot marks it and says why."""
    import copy

    from stsmeta.stats.results import HK_BELOW_ONE

    plan, pooled, studies = inputs
    result = copy.deepcopy(pooled["complete_remission"]["primary"])
    name = plan.secondary_methods[0]
    result["secondary"][name]["warnings"] = [HK_BELOW_ONE]
    plot = draw_forest(plan, result, studies)
    labels = [r.row.label for r in plot.rows_of("secondary")]
    assert labels[0] == f"{plan.method_label(name)} \u2020"
    assert all(not label.endswith("\u2020") for label in labels[1:])
    text = " ".join(all_texts(plot.figure)).replace("\n", " ")
    assert text.count("\u2020 Known to mislead") == 1
    # Its diamond is grey (not a colour of its own beside the credible methods); the others'
    # are coloured.
    from matplotlib.colors import to_hex

    from stsmeta.figures.style import GREY

    ys = [r.y for r in plot.rows_of("secondary")]
    edges = {
        round(float(patch.get_xy()[:, 1].mean()), 6): to_hex(patch.get_edgecolor())
        for patch in plot.axes.patches
    }
    assert edges[round(ys[0], 6)] == to_hex(GREY)
    assert all(edges[round(y, 6)] != to_hex(GREY) for y in ys[1:])


def test_a_configured_label_ending_in_a_dagger_is_not_taken_for_the_mark(inputs):
    """The grey and the note follow the method's warnings, not its label: a label the
    configuration ends with \u2020 (a footnote of the review's own) keeps its colour."""
    from matplotlib.colors import to_hex

    from stsmeta.figures.style import GREY

    plan, pooled, studies = inputs
    result = copy.deepcopy(pooled["complete_remission"]["primary"])
    names = [m for m in plan.secondary_methods if m in (result.get("secondary") or {})]
    assert names
    for name in names:
        result["secondary"][name]["warnings"] = []
    with figure_style():
        plot = forest_plot(
            result,
            studies,
            outcome_label="Complete remission",
            primary_label=plan.method_label("primary"),
            secondary_labels={m: f"{plan.method_label(m)} \u2020" for m in names},
            subgroup_variable="calcinosis_type",
            subgroup_label="Calcinosis type",
        )
    rows = plot.rows_of("secondary")
    assert len(rows) == len(names)
    assert all(r.row.label.endswith("\u2020") and not r.row.misleading for r in rows)
    edges = {
        round(float(patch.get_xy()[:, 1].mean()), 6): to_hex(patch.get_edgecolor())
        for patch in plot.axes.patches
    }
    assert all(edges[round(r.y, 6)] != to_hex(GREY) for r in rows if r.row.estimate is not None)
    assert "Known to mislead" not in " ".join(all_texts(plot.figure))


def test_the_first_screen_forest_says_the_level_its_intervals_are_at(inputs):
    """Pooled at another confidence level (``--config confidence_level=0.9``), its header and
    notes say that level: they said 95% whatever the intervals drawn."""
    from stsmeta.figures import summary_figure
    from stsmeta.figures.summary_forest import summary_forest_plot

    plan, pooled, studies = inputs
    result = copy.deepcopy(pooled["complete_remission"]["primary"])
    result["confidence_level"] = 0.9
    plot = summary_forest_plot(result, studies, outcome_label="Complete remission")
    text = " ".join(all_texts(plot.figure)).replace("\n", " ")
    assert "Percent (90% interval)" in text
    assert "line: its 90% interval" in text and "(90% prediction interval)" in text
    assert "95%" not in text
    # The workflow's figure says the level its pooled file was computed at.
    changed = {**pooled, "complete_remission": {**pooled["complete_remission"], "primary": result}}
    text = " ".join(all_texts(summary_figure(plan, changed, studies).figure))
    assert "Percent (90% interval)" in text


def test_the_first_screen_forest_shows_where_a_new_study_may_fall(inputs):
    """What a clinic may see: the prediction interval, in percent, under the diamond."""
    import copy

    from stsmeta.figures.summary_forest import summary_forest_plot

    plan, pooled, studies = inputs
    result = pooled["complete_remission"]["primary"]
    plot = summary_forest_plot(result, studies, outcome_label="Complete remission")
    text = " ".join(all_texts(plot.figure)).replace("\n", " ")
    (row,) = plot.rows_of("prediction")
    assert (row.row.low, row.row.high) == (result["pi_low"], result["pi_high"])
    assert f"{numbers.percent(result['pi_low'])} to {numbers.percent(result['pi_high'])}" in text
    assert "95% prediction interval" in text
    assert row.y < plot.rows_of("pooled")[0].y
    # Without a prediction interval, no such row and no such note.
    bare = copy.deepcopy(result)
    bare["pi_low"] = bare["pi_high"] = None
    plot = summary_forest_plot(bare, studies, outcome_label="Complete remission")
    assert not plot.rows_of("prediction")
    assert "prediction interval" not in " ".join(all_texts(plot.figure))


def test_a_not_estimable_reason_leaves_out_the_results_other_notes():
    # The diff review: a level with no estimate and the unassessable-patients note gave that
    # note as the reason it had no estimate.
    from stsmeta.figures.forest import Notes

    notes = Notes()
    notes.not_estimable(
        "Level A",
        {"estimate": None, "warnings": ["not estimable: too few studies", "the level's one ..."]},
    )
    notes.not_estimable("Level B", {"estimate": None, "warnings": ["no estimate here"]})
    assert notes.render() == [
        "Not estimable: Level A (too few studies).",
        "Not estimable: Level B (no estimate here).",
    ]
