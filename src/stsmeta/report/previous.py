"""The previous version of the results, for "Changes since the previous version".

Accepts the archive written by ``stsmeta archive``, read and verified through
``stsmeta.archive`` (the one reader of the archive layout). An unpacked folder is not accepted:
it could not be verified, and the report compares only with what was published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from stsmeta.errors import InputError, Problem


@dataclass(frozen=True)
class Previous:
    version: str
    source: str
    pooled: dict[str, dict[str, dict]]
    studies: dict[str, dict]


def _json(data: bytes, source: str, name: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(Problem(source, name, f"not valid UTF-8 JSON ({exc})")) from None


def _from_files(pool: dict[str, bytes], normalised: dict[str, bytes], source: str):
    pooled: dict[str, dict[str, dict]] = {}
    studies: dict[str, dict] = {}
    for name, data in sorted(pool.items()):
        parts = name.split("/")
        if len(parts) == 2 and parts[1].endswith(".json"):
            pooled.setdefault(parts[0], {})[parts[1][: -len(".json")]] = _json(data, source, name)
    for name, data in sorted(normalised.items()):
        if "/" not in name and name.endswith(".json"):
            value = _json(data, source, name)
            studies[str(value.get("study_id") or name[: -len(".json")])] = value
    return pooled, studies


def load_previous(path: Path | str, data: bytes) -> Previous:
    """Read a previous archive (``data`` are its bytes).

    An archive that fails its manifest or whose name and content disagree is an error; nothing
    is deleted or changed.
    """
    from stsmeta.archive import read_archive, result_files, verify_archive

    path = Path(path)
    result = verify_archive(path)
    if not result.ok:
        raise InputError(
            Problem(
                str(path),
                "",
                f"the previous version's archive failed verification ({result.summary()}); "
                "restore the published archive; nothing was changed",
            )
        )
    contents = read_archive(path, data)
    folders = {f: result_files(contents, f) for f in ("pool", "normalised")}
    version = contents.version or contents.top
    pooled, studies = _from_files(folders["pool"], folders["normalised"], str(path))
    if not pooled and not studies:
        raise InputError(
            Problem(str(path), "", "no pool/<outcome>/<scenario>.json or normalised/*.json in it")
        )
    return Previous(version=version, source=path.name, pooled=pooled, studies=studies)
