# stsmeta: the whole DAG, from study files in data/raw/ to the report and the citable archive.
# `snakemake --cores 4` builds everything but the archive (the coverage study included, as the
# report shows it); `snakemake --cores 4 archive` packs the citable archive; `snakemake --cores 4
# coverage` runs the coverage study alone (see docs/cluster.md for SLURM).


from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/config.smk"
include: "workflow/rules/evidence.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/coverage.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/archive.smk"
include: "workflow/rules/clean.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
