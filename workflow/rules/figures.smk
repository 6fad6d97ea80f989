FIGURE_FORMATS = ["png", "svg", "pdf"]
FIGURE_STEMS = [
    *expand("{kind}_{outcome}", kind=["forest", "sensitivity", "cumulative"], outcome=OUTCOMES),
    "risk_of_bias",
]
FIGURES = expand(
    f"{RESULTS}/figures/{{stem}}.{{ext}}", stem=FIGURE_STEMS, ext=FIGURE_FORMATS
)


def figure_output(stem, ext):
    """A figure file; the PNGs also go into `snakemake --report` with their caption."""
    path = f"{RESULTS}/figures/{stem}.{ext}"
    if ext != "png":
        return path
    kind = "risk_of_bias" if stem == "risk_of_bias" else stem.split("_", 1)[0]
    return report(
        path,
        caption=f"../report/{kind}.rst",
        category="Figures",
        labels={"figure": stem.replace("_", " ")},
    )


rule figures:
    """Forest, sensitivity, cumulative and risk-of-bias figures from the pooled results."""
    input:
        config=CONFIG_FILE,
        pooled=pooled_files(),
        studies=normalised_files(),
    output:
        [figure_output(stem, ext) for stem in FIGURE_STEMS for ext in FIGURE_FORMATS],
    params:
        pooled_dir=f"{RESULTS}/pooled",
        normalised_dir=f"{RESULTS}/normalised",
        outdir=f"{RESULTS}/figures",
    log:
        f"{RESULTS}/logs/figures.log",
    conda:
        CONDA_ENV
    shell:
        "{STSMETA} figures --config {input.config} --pooled-dir {params.pooled_dir}"
        " --normalised-dir {params.normalised_dir} --outdir {params.outdir} > {log} 2>&1"
