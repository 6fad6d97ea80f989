"""``stsmeta screening SCREENING.yaml NORMALISED.json... --flow F --records R``: the PRISMA flow."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "screening",
        help="check the screening records against the studies; write the PRISMA flow",
        description=(
            "Check data/screening/screening.yaml (schema, references, counts that add up, one"
            " included record per study file) and write the PRISMA 2020 flow as JSON and the"
            " records as CSV."
        ),
    )
    parser.add_argument("screening", help="data/screening/screening.yaml")
    parser.add_argument(
        "normalised",
        nargs="+",
        help="results/normalised/<study>.json (or results/extract/<study>.json) files",
    )
    parser.add_argument("--flow", required=True, help="output: the flow and sources (JSON)")
    parser.add_argument("--records", required=True, help="output: one row per record (CSV)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from stsmeta.atomic_write import write_text_atomically
    from stsmeta.evidence.model import read_normalised
    from stsmeta.evidence.screening import (
        RECORD_COLUMNS,
        flow_document,
        read_screening,
        records_rows,
    )
    from stsmeta.evidence.tables import to_csv

    # Normalised studies or their analysis extracts: only ids and outcome counts are read.
    loaded, _ = read_normalised(args.normalised)
    studies = {study["study_id"]: bool(study.get("outcomes")) for study in loaded}
    data = read_screening(args.screening, studies)
    flow = json.dumps(flow_document(data), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    records = to_csv(RECORD_COLUMNS, records_rows(data))
    write_text_atomically(args.records, records)
    write_text_atomically(args.flow, flow)
    return 0
