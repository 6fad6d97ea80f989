"""Helpers for the archive tests: a SYNTHETIC repository with results, and offline validators.

All results trees here are SYNTHETIC: made-up studies and numbers that only exercise packing,
publishing and verifying; they say nothing about sodium thiosulfate.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import yaml

from stsmeta import archive

REPO = Path(__file__).resolve().parents[1]
JSONLD = Path(__file__).parent / "fixtures" / "jsonld"
# Remote JSON-LD documents the validator asks for, served from files shipped with the tests.
CONTEXTS = {"https://w3id.org/ro/crate/1.3/context": JSONLD / "ro-crate-1.3-context.jsonld"}


def synthetic_config(version: str = "9.9.9", **report) -> str:
    """SYNTHETIC config for tests of the archive: the shipped plan with a synthetic report."""
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["report"] = {
        "title": "Synthetic results (test only)",
        "authors": ["stsmeta contributors", {"given-names": "Ada", "family-names": "Example"}],
        "version": version,
        "license": "CC-BY-4.0",
        **report,
    }
    return "# SYNTHETIC config for tests of the archive\n" + yaml.safe_dump(config, sort_keys=False)


WORKFLOW = ("Snakefile", "pyproject.toml", "envs/requirements.lock", "workflow/rules/a.smk")


def make_tree(root: Path, *, version: str = "9.9.9", events: int = 3, **report) -> dict:
    """Write a SYNTHETIC repository with results under ``root``; return what to pass."""
    raw = root / "data" / "raw"
    raw.mkdir(parents=True)
    results = root / "results"
    for sub in ("normalised", "tables", "figures", "pool/complete_remission"):
        (results / sub).mkdir(parents=True)
    for study, year in (("synthetic_a_2011", 2011), ("synthetic_b_2019", 2019)):
        text = f"# SYNTHETIC study file\nstudy_id: {study}\nyear: {year}\n"
        (raw / f"{study}.yaml").write_text(text)
        doc = {"study_id": study, "year": year, "synthetic": True}
        doc["source_sha256"] = hashlib.sha256(text.encode()).hexdigest()
        (results / "normalised" / f"{study}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (results / "tables" / "studies.csv").write_text(f"study_id,events\nsynthetic_a_2011,{events}\n")
    (results / "figures" / "forest.svg").write_text("<svg><!-- synthetic --></svg>\n")
    (results / "figures" / "forest.png").write_bytes(bytes(range(256)) * 4)
    (results / "pool" / "complete_remission" / "primary.json").write_text(
        json.dumps({"synthetic": True, "events": events, "estimate": 0.5}) + "\n"
    )
    (results / "report.md").write_text("# Synthetic report\n")
    (results / "report.html").write_text("<html><body>Synthetic report</body></html>\n")
    (root / "config.yaml").write_text(synthetic_config(version, **report))
    # The effective configuration, as the workflow's config rule writes it.
    from stsmeta.config import effective_config, load_config

    config, _ = load_config(root / "config.yaml")
    (root / "results" / "config").mkdir()
    (root / "results" / "config" / "archive.json").write_text(effective_config(config, "archive"))
    for name in (*WORKFLOW, "src/stsmeta/__init__.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# synthetic {name}\n")
    (root / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    return {
        "results": [
            p for p in sorted(results.rglob("*")) if p.is_file() and p.parent.name != "config"
        ],
        "raw": sorted(raw.glob("*.yaml")),
    }


def inputs_for(root: Path, given: dict) -> archive.ArchiveInputs:
    return archive.ArchiveInputs(
        config_path=root / "results" / "config" / "archive.json",
        results_dir=root / "results",
        result_files=tuple(given["results"]),
        raw_files=tuple(given["raw"]),
        config_files=(root / "config.yaml",),
        workflow_base=root,
        workflow_files=(*WORKFLOW, "config.yaml"),
        source_version=archive.NOT_A_GIT_CHECKOUT,
        package_dir=root / "src" / "stsmeta",
        package_files=("__init__.py",),
    )


def build_in(root: Path, **kwargs) -> bytes:
    given = make_tree(root, **kwargs)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        data, _ = archive.build_archive(inputs_for(root, given))
    finally:
        os.chdir(cwd)
    return data


def members_of(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def member_bytes(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


def rewrite(data: bytes, change, rename=None) -> bytes:
    """Repack an archive after ``change(name, bytes) -> bytes | None`` (None drops a file)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src,
        tarfile.open(fileobj=out, mode="w:gz") as dst,
    ):
        for member in src.getmembers():
            if rename:
                member.name = rename(member.name)
            if member.isfile():
                handle = src.extractfile(member)
                assert handle is not None
                content = change(member.name, handle.read())
                if content is None:
                    continue
                member.size = len(content)
                dst.addfile(member, io.BytesIO(content))
            else:
                dst.addfile(member)
    return out.getvalue()


def with_manifest_recomputed(data: bytes) -> bytes:
    """The archive with MANIFEST.sha256 rewritten to match its (changed) files."""
    contents = archive.read_archive("x", data)
    files = {k: v for k, v in contents.files.items() if k != archive.MANIFEST_NAME}
    manifest = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files))
    top = contents.top
    return rewrite(
        data,
        lambda n, b: manifest.encode() if n == f"{top}/{archive.MANIFEST_NAME}" else b,
    )


_PREPARED: dict = {}


def _reuse_prepared_sparql() -> None:
    """Parse each SPARQL query of the validator's SHACL shapes once per test session.

    Parsing dominates the validator's run time (about 15 s per crate); rdflib supports
    executing one prepared query many times, so the second crate validated reuses them.
    """
    from rdflib.plugins.sparql import processor

    if getattr(processor.SPARQLProcessor.query, "_stsmeta_cached", False):
        return
    original = processor.SPARQLProcessor.query

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((initNs or {}).items())))
            if key not in _PREPARED:
                parsed = processor.parseQuery(strOrQuery)
                _PREPARED[key] = processor.translateQuery(parsed, base, initNs)
            strOrQuery = _PREPARED[key]
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    query._stsmeta_cached = True
    processor.SPARQLProcessor.query = query


def validate_crate_offline(folder: Path, cache_dir: Path, profile: str = "ro-crate-1.3"):
    """roc-validator on an unpacked crate at the REQUIRED level, offline.

    The validator resolves remote JSON-LD contexts through its HTTP cache; the cache is
    filled here from the files in tests/fixtures/jsonld through a local transport adapter
    (nothing goes to the network), then the validator runs with ``offline=True``.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from requests_cache import CachedSession
    from rocrate_validator import services
    from rocrate_validator.models import Severity, ValidationSettings
    from urllib3 import HTTPResponse

    class ShippedFiles(HTTPAdapter):
        def send(self, request, **kwargs):
            path = CONTEXTS.get(request.url)
            body = path.read_bytes() if path else b""
            raw = HTTPResponse(
                body=io.BytesIO(body),
                headers={"Content-Type": "application/ld+json"},
                status=200 if path else 404,
                preload_content=False,
                request_url=request.url,
            )
            return self.build_response(request, raw)

    _reuse_prepared_sparql()
    cache = cache_dir / "http"
    session = CachedSession(
        cache_name=str(cache),
        backend="sqlite",
        expire_after=-1,
        allowable_codes=(200, 302, 404),
        allowable_methods=("GET",),
    )
    session.mount("https://", ShippedFiles())
    session.mount("http://", ShippedFiles())
    for url in CONTEXTS:
        assert session.get(url).status_code == requests.codes.ok
    session.close()
    settings = ValidationSettings(
        rocrate_uri=str(folder),
        profile_identifier=profile,
        requirement_severity=Severity.REQUIRED,
        offline=True,
        cache_path=cache,
    )
    return services.validate(settings)
