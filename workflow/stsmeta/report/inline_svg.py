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


def _clean(element: ET.Element, prefix: str) -> None:
    for child in list(element):
        ns, local = _local(child.tag) if isinstance(child.tag, str) else ("", "")
        if ns != SVG_NS or local not in ELEMENTS:
            element.remove(child)
            continue
        _clean(child, prefix)
    for name in list(element.attrib):
        value = element.attrib[name]
        ns, local = _local(name)
        if local.lower().startswith("on") or ns not in ("", XLINK_NS):
            del element.attrib[name]
        elif local == "href":
            if value.startswith("#"):
                element.attrib[name] = f"#{prefix}{value[1:]}"
            elif value.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")):
                element.attrib[name] = "".join(value.split())
            else:
                del element.attrib[name]
        elif local == "id":
            element.attrib[name] = prefix + value
        elif "url(" in value.lower():
            replaced = _URL.sub(lambda m: f"url(#{prefix}{m.group(1)})", value)
            # Only references inside the figure are kept; url(http:...) and the like go.
            if len(_ANY_URL.findall(replaced)) != len(_URL.findall(replaced)):
                del element.attrib[name]
            else:
                element.attrib[name] = replaced
        elif local == "d" or local == "points":
            element.attrib[name] = " ".join(value.split())
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
