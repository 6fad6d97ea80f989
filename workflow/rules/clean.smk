# Files left under results/ by studies, outcomes or scenarios that are no longer in data/raw/ or
# the configuration. No job reads them (every job names its inputs), so they never reach a table,
# figure or report; `snakemake --cores 1 clean_stale` deletes them, and empties the result cache
# (results/cache: earlier states' pooled results and figures, read only by a job whose inputs
# are those very bytes again).


localrules:
    clean_stale,


rule clean_stale:
    """Delete result files that the current studies and configuration no longer produce, and
    the result cache."""
    log:
        f"{RESULTS}/logs/clean_stale.log",
    run:
        remove_stale_results(log[0])
