"""The previous version of the results, for "Changes since the previous version".

Accepts the archive written by ``stsmeta archive`` (``stsmeta-results-<version>.tar.gz`` with
``stsmeta-results-<version>/pooled/<outcome>/<scenario>.json`` and ``.../normalised/*.json``)
or an unpacked results directory with ``pooled/`` and ``normalised/`` at its top.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from stsmeta.errors import InputError, Problem

_TOP = re.compile(r"^stsmeta-results-(?P<version>[^/]+)$")
_POOLED = re.compile(r"^(?:[^/]+/)?(?:pool|pooled)/(?P<outcome>[^/]+)/(?P<scenario>[^/]+)\.json$")
_NORMALISED = re.compile(r"^(?:[^/]+/)?normalised/(?P<study>[^/]+)\.json$")


@dataclass(frozen=True)
class Previous:
    version: str
    source: str
    pooled: dict[str, dict[str, dict]]
    studies: dict[str, dict]


def _add(name: str, data: bytes, pooled: dict, studies: dict, source: str) -> None:
    name = name.removeprefix("./")
    pooled_match, study_match = _POOLED.match(name), _NORMALISED.match(name)
    if not (pooled_match or study_match):
        return
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(Problem(source, name, f"not valid UTF-8 JSON ({exc})")) from None
    if pooled_match:
        pooled.setdefault(pooled_match["outcome"], {})[pooled_match["scenario"]] = value
    else:
        studies[str(value.get("study_id") or study_match["study"])] = value


def load_previous(path: Path | str, data: bytes) -> Previous:
    """Read a previous archive (``data`` are its bytes, already checksummed) or directory."""
    path = Path(path)
    pooled: dict[str, dict[str, dict]] = {}
    studies: dict[str, dict] = {}
    version = ""
    if path.is_dir():
        top = path.name
        for file in sorted(path.rglob("*.json")):
            _add(file.relative_to(path).as_posix(), file.read_bytes(), pooled, studies, str(path))
    else:
        try:
            archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115
        except tarfile.TarError as exc:
            raise InputError(
                Problem(str(path), "", f"not a results archive or directory ({exc})")
            ) from None
        top = ""
        with archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name):
                top = top or member.name.removeprefix("./").split("/")[0]
                if member.isfile():
                    fh = archive.extractfile(member)
                    if fh is not None:
                        _add(member.name, fh.read(), pooled, studies, str(path))
    match = _TOP.match(top)
    version = match["version"] if match else top
    if not pooled and not studies:
        raise InputError(
            Problem(str(path), "", "no pooled/<outcome>/<scenario>.json or normalised/*.json in it")
        )
    return Previous(version=version, source=path.name, pooled=pooled, studies=studies)
