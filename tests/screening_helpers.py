"""Edit a project's screening records as a user must when study files are added, removed or
renamed (used by the workflow tests and benchmarks/bench_loop.py). SYNTHETIC records only."""

from __future__ import annotations

from pathlib import Path

import yaml


def screening_follows(
    work: Path, removed=(), renamed=None, added=(), added_in_no_synthesis=()
) -> None:
    """Update the screening records as a user must when study files are added, removed, renamed.

    The flow diagram is checked against the study files (rule screening), so a stale record stops
    the run; the flow numbers are recomputed from the records, as a user would count them.
    """
    from stsmeta.evidence.screening import computed_flow

    renamed = renamed or {}
    path = work / "data" / "screening" / "screening.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    records = [r for r in data["records"] if r.get("study_id") not in removed]
    for record in records:
        if record.get("study_id") in renamed:
            record["study_id"] = renamed[record["study_id"]]
    source = data["information_sources"][0]["id"]
    for sid in added:
        records.append(
            {
                "id": f"r-{sid}",
                "reference": f"SYNTHETIC test study {sid}",
                "identified_via": [source],
                "decision": "included",
                "assessed_on": "full_text",
                "study_id": sid,
            }
        )
    data["records"] = records
    no_synthesis = [
        renamed.get(s, s) for s in data["flow"]["studies_in_no_synthesis"] if s not in removed
    ] + list(added_in_no_synthesis)
    data["flow"] = {**computed_flow(data), "studies_in_no_synthesis": sorted(no_synthesis)}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
