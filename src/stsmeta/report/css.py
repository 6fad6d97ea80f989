"""The report's style sheet: screen (desktop and phone width) and print (the PDF).

Print: A4 pages with the running title at the top and "page N of M" at the bottom (CSS page
margin boxes, which Chromium draws), tables that break between rows and repeat their header,
figures and table rows never split, and wide tables shrunk to the page instead of cut at its
right edge. Colours meet WCAG AA contrast on white; links are underlined.
"""

from __future__ import annotations


def stylesheet(running_title: str) -> str:
    """The CSS of the report; ``running_title`` is printed at the top of every PDF page."""
    return SCREEN + PRINT.replace("RUNNING_TITLE", css_string(running_title))


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:;()'-")


def css_string(text: str) -> str:
    """Text for inside a CSS string: anything but plain letters, digits and punctuation is
    written as a CSS escape, so that no title can close the string or the ``<style>`` element.
    """
    return "".join(c if c in _PLAIN else f"\\{ord(c):x} " for c in " ".join(text.split()))


SCREEN = """
:root{--ink:#111;--muted:#444;--rule:#bbb;--accent:#0b5394;--panel:#f3f6fa}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
max-width:72rem;margin:0 auto;padding:1rem;line-height:1.5;color:var(--ink);background:#fff}
a{color:var(--accent)}a:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
header h1{font-size:1.65rem;line-height:1.25;margin:.6rem 0}
header p{margin:.2rem 0;color:var(--muted)}
h2{border-bottom:1px solid var(--rule);padding-bottom:.2rem;margin-top:2.4rem}
h3{margin-top:1.6rem}
nav ol{columns:2 18rem;padding-left:1.4rem}nav li{margin:.15rem 0}
nav a{display:inline-block;min-height:24px;padding:2px 0}
section.first-screen{background:var(--panel);border:1px solid #c9d4e3;border-radius:6px;
padding:.4rem 1.2rem 1rem;margin-top:1rem}
section.first-screen h2{border:none;margin-top:.6rem}
.answer{font-size:1.12rem}.answer strong{font-size:1.2rem}
p.question{font-size:1.15rem;font-weight:600}
.table-wrap{overflow-x:auto;margin:.8rem 0;max-width:100%}
.table-wrap:focus-visible{outline:2px solid var(--accent)}
table{border-collapse:collapse;font-size:.88rem;width:100%}
th,td{border:1px solid var(--rule);padding:.3rem .45rem;text-align:left;vertical-align:top}
td{overflow-wrap:break-word}
thead th{background:#e8ecf1}tbody th{font-weight:normal;background:#fafafa}
caption{text-align:left;font-weight:600;padding:.3rem 0}
figure{margin:1rem 0;break-inside:avoid}
figure img,figure svg{max-width:100%;height:auto;border:1px solid #ddd;background:#fff}
figure svg{width:100%}figure svg *{stroke-linejoin:round;stroke-linecap:butt}
figcaption{font-size:.9rem;color:#333;margin-top:.3rem}
code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:.85rem}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;white-space:pre}
.num{font-variant-numeric:tabular-nums}
ol.references li{margin:.35rem 0}ol.references li:target{background:#fff3c4}
section.appendix h2::before{content:"Appendix: ";color:var(--muted)}
@media (max-width:40rem){
body{padding:.6rem;font-size:1rem}header h1{font-size:1.3rem}
nav ol{columns:1}section.first-screen{padding:.3rem .7rem .8rem}
table{width:auto;min-width:100%}th,td{overflow-wrap:normal;min-width:4rem}
p,li{overflow-wrap:anywhere}
figure{overflow-x:auto}figure svg,figure img{min-width:38rem;max-width:none}
}
"""

PRINT = """
@page{size:A4;margin:18mm 14mm 18mm 14mm;
@top-center{content:"RUNNING_TITLE";font:8pt "DejaVu Sans",sans-serif;color:#444}
@bottom-right{content:"Page " counter(page) " of " counter(pages);
font:8pt "DejaVu Sans",sans-serif;color:#444}}
@page:first{@top-center{content:none}}
@media print{
body{max-width:none;padding:0;font-size:10pt;line-height:1.35}
a{color:inherit;text-decoration:none}
section.first-screen{break-after:page;border:1px solid #999;padding:.2rem .8rem .5rem}
section.first-screen figure svg{max-height:12.5cm}
.answer,section.first-screen p{margin:.35rem 0}
section.appendix{break-before:page}
h2,h3{break-after:avoid}
.table-wrap{overflow:visible}
table{width:100%;table-layout:auto;font-size:7.5pt}
th,td{overflow-wrap:anywhere;hyphens:auto;padding:.15rem .25rem}
p,li{overflow-wrap:anywhere}
caption{break-after:avoid}
thead{display:table-header-group}tr,figure,img,svg{break-inside:avoid}
figure svg,figure img{max-height:24cm;width:auto;max-width:100%}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:7pt}
}
"""
