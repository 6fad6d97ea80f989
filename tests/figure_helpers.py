"""Stand-ins for the figures the report inlines (SYNTHETIC: no figure of the analysis)."""

from __future__ import annotations


def tiny_svg(seed: int) -> bytes:
    """A small SVG shaped like matplotlib's (synthetic stand-in for a figure)."""
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="40pt" height="20pt" '
        'viewBox="0 0 40 20" xmlns="http://www.w3.org/2000/svg" version="1.1">\n'
        " <metadata><title>SYNTHETIC</title></metadata>\n"
        ' <defs><style type="text/css">*{stroke-linecap: butt}</style>'
        '<clipPath id="clip1"><rect x="0" y="0" width="40" height="20"/></clipPath>'
        '<path id="glyph" d="M 0 0 \nL 5 5 \nz"/></defs>\n'
        f' <g id="figure_1" clip-path="url(#clip1)"><!-- label {seed} -->\n'
        f'  <path d="M 0 0 L 40 20" style="stroke: #{seed % 256:02x}0000; stroke-width: 2"/>\n'
        '  <use xlink:href="#glyph" x="3" y="3"/>\n'
        " </g>\n</svg>\n"
    ).encode()
