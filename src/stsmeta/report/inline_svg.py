"""A figure's SVG made safe and unique for inlining into the HTML report.

Inline SVG keeps the report small and sharp at any zoom (the 300 dpi PNGs made it ~2.7 MB).
The SVG is a workflow output drawn from untrusted study text, so only drawing elements and
attributes are kept (no script, style sheet, foreign object, event handler or external link),
and every id is prefixed with the figure's stem: several SVGs share one HTML id space.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# Drawing elements matplotlib writes (and a few more); anything else is dropped with its content.
ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "defs",
        "path",
        "use",
        "clipPath",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "image",
        "text",
        "tspan",
        "linearGradient",
        "radialGradient",
        "stop",
        "pattern",
        "mask",
        "symbol",
        "a",  # only as a link to a reference of the report (see _clean_link)
    }
)
_URL = re.compile(r"url\(\s*#([^)\s]+)\s*\)")
_ANY_URL = re.compile(r"url\(", re.I)


class SvgError(ValueError):
    """The file is not an SVG document."""


def _local(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


_KEPT_TAGS = frozenset(f"{{{SVG_NS}}}{name}" for name in ELEMENTS)
_HREF = f"{{{XLINK_NS}}}href"
_LINK_TAG = f"{{{SVG_NS}}}a"
# A figure's links point at the report's references (a study label -> #study-<id>), nothing else.
_REFERENCE = re.compile(r"^#(study|record)-[a-z0-9-]+$")


def _clean_link(element: ET.Element) -> None:
    """An <a> keeps its href only when it names a reference of the report; nothing else."""
    href = element.attrib.get(_HREF) or element.attrib.get("href") or ""
    element.attrib.clear()
    if _REFERENCE.match(href):
        element.set(_HREF, href)


def _clean_attributes(element: ET.Element, prefix: str) -> None:
    attrib = element.attrib
    for name in list(attrib):
        value = attrib[name]
        ns, local = _local(name)
        if local.lower().startswith("on") or ns not in ("", XLINK_NS):
            del attrib[name]
        elif local == "href":
            if value.startswith("#"):
                attrib[name] = f"#{prefix}{value[1:]}"
            elif value.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")):
                attrib[name] = "".join(value.split())
            else:
                del attrib[name]
        elif local == "id":
            attrib[name] = prefix + value
        elif "url(" in value.lower():
            replaced = _URL.sub(lambda m: f"url(#{prefix}{m.group(1)})", value)
            # Only references inside the figure are kept; url(http:...) and the like go.
            if len(_ANY_URL.findall(replaced)) != len(_URL.findall(replaced)):
                del attrib[name]
            else:
                attrib[name] = replaced
        elif local == "d" or local == "points":
            attrib[name] = " ".join(value.split())


def _clean(root: ET.Element, prefix: str) -> None:
    # Iterative, with a fast path for the commonest element (a glyph or marker placed by
    # <use xlink:href="#..." x=".." y="..">): tall figures have hundreds of thousands.
    stack = [root]
    while stack:
        element = stack.pop()
        for child in list(element):
            if child.tag not in _KEPT_TAGS:
                element.remove(child)
            else:
                stack.append(child)
        attrib = element.attrib
        if element.tag == _LINK_TAG:
            _clean_link(element)
        elif attrib:
            href = attrib.get(_HREF)
            if (
                len(attrib) == 3
                and href is not None
                and href.startswith("#")
                and "x" in attrib
                and "y" in attrib
                and "url(" not in attrib["x"].lower() + attrib["y"].lower()
            ):
                attrib[_HREF] = f"#{prefix}{href[1:]}"
            else:
                _clean_attributes(element, prefix)
        # Indentation between elements only adds bytes.
        if element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None


def inline_svg(data: bytes, prefix: str, label: str) -> str:
    """The ``<svg>`` element of ``data``, sanitised, ids prefixed, labelled for screen readers."""
    parser = ET.XMLParser()  # comments and processing instructions are dropped by default
    try:
        root = ET.fromstring(data, parser=parser)
    except ET.ParseError as exc:
        raise SvgError(f"not a well-formed SVG file ({exc})") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise SvgError("the top element is not <svg>")
    _clean(root, prefix)
    for name in ("version",):
        root.attrib.pop(name, None)
    root.set("role", "img")
    root.set("aria-label", label)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    text = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    # The HTML parser puts <svg> and xlink:href in their namespaces by itself; the declarations
    # would only add namespace URLs to a page that links nowhere.
    head, _, rest = text.partition(">")
    head = head.replace(f' xmlns="{SVG_NS}"', "").replace(f' xmlns:xlink="{XLINK_NS}"', "")
    return f"{head}>{rest}"
