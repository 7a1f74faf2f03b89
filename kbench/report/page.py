"""Assemble one self-contained HTML page from report sections (plotly.js embedded once, no network).

Every string from input is escaped with :func:`html.escape`; figure JSON sits in
``<script type="application/json">`` blocks (plotly's JSON already writes ``<``, ``>`` and ``/`` as
``\\u`` escapes, and ``</`` is escaped again here), and one script at the end draws them all. The
page records script errors and ``console.error`` calls in ``window.kbErrors`` (and in
``data-kb-errors`` on ``<body>``) and, once every figure is drawn, sets
``data-kb-rendered`` on ``<body>`` to the number of figures (the browser test reads both).
"""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any

from kbench.report.base import caption_of
from kbench.report.sections import Figure, Missing, Section, Table, Zero

PLOT_CONFIG = '{"responsive": true, "displaylogo": false}'

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;
padding:0 18px 40px;color:#222}
h1{font-size:1.6em;margin:18px 0 4px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:34px}
.kb-sub{color:#555;margin:0 0 12px} .kb-meta{color:#777;font-size:.85em}
table.kb-table{border-collapse:collapse;margin:10px 0 18px;font-size:.92em}
.kb-table caption{text-align:left;font-weight:600;padding:4px 0}
.kb-table th,.kb-table td{border:1px solid #ddd;padding:4px 10px;text-align:left}
.kb-table th{background:#f4f4f4} .kb-pass{color:#1a7f37;font-weight:600} .kb-fail{color:#c00;font-weight:700}
figure.kb-figure{margin:18px 0 26px} .kb-plot{width:100%;min-height:320px}
figcaption{color:#444;font-size:.92em;margin-top:2px} .kb-missing{color:#8a6d00;font-size:.92em}
.kb-zero{color:#333;font-size:.95em;margin:10px 0 18px}
nav.kb-toc a{margin-right:14px}
"""

ERROR_HOOK = """window.kbErrors=[];
window.addEventListener('error',function(e){window.kbErrors.push(String(e.message||e));});
window.addEventListener('unhandledrejection',function(e){window.kbErrors.push(String(e.reason));});
(function(){var orig=console.error;console.error=function(){
  window.kbErrors.push(Array.prototype.join.call(arguments,' '));return orig.apply(console,arguments);};})();"""

DRAW = """(function(){
  var boxes=document.querySelectorAll('div.kb-plot'), jobs=[];
  boxes.forEach(function(box){
    var spec=JSON.parse(document.getElementById(box.id+'-data').textContent);
    jobs.push(Plotly.newPlot(box, spec.data, spec.layout, PLOT_CONFIG));
  });
  Promise.all(jobs).then(function(){
    document.body.setAttribute('data-kb-rendered', String(boxes.length));
    if(window.kbErrors.length){document.body.setAttribute('data-kb-errors', window.kbErrors.join(' | '));}
  }, function(err){document.body.setAttribute('data-kb-errors', String(err));});
})();""".replace("PLOT_CONFIG", PLOT_CONFIG)


def e(text: Any) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def _table(t: Table) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in t.headers)
    body = []
    for row in t.rows:
        cells = []
        for i, c in enumerate(row):
            text = "-" if c is None else (f"{c:.4g}" if isinstance(c, float) else str(c))
            cls = ""
            if t.status is not None and i == t.status:
                cls = ' class="kb-pass"' if text == "pass" else ' class="kb-fail"' if "FAIL" in text else ""
                text = text.replace("*", "")
            cells.append(f"<td{cls}>{e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="kb-table"><caption>{e(t.title)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _figure(fig_id: str, f: Figure) -> str:
    spec = f.fig.to_json().replace("</", "<\\/")
    return (f'<figure class="kb-figure"><div class="kb-plot" id="{fig_id}"></div>'
            f'<script type="application/json" id="{fig_id}-data">{spec}</script>'
            f"<figcaption>{e(caption_of(f.fig))}</figcaption></figure>")


def _missing(m: Missing) -> str:
    return f'<p class="kb-missing">Not shown: <b>{e(m.title)}</b> ({e(m.reason)}).</p>'


def _zero(z: Zero) -> str:
    return f'<p class="kb-zero"><b>{e(z.title)}</b>: {e(z.what)}.</p>'


def render(sections: list[Section], sources: list[str], title: str | None = None) -> str:
    """The whole page.

    Args:
        sections: From :func:`kbench.report.sections.build_sections`.
        sources: The folders reported on (listed in the header).
        title: The page title (default: the first section's).

    Returns:
        The HTML text.
    """
    from plotly.offline import get_plotlyjs

    from kbench.version import __version__

    title = title or (sections[0].title if sections else "kbench report")
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e("kbench report: " + title)}</title>',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<style>{CSS}</style><script>{ERROR_HOOK}</script>",
             f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>',
             f"<h1>kbench report: {e(title)}</h1>",
             f'<p class="kb-meta">kbench {e(__version__)} · generated '
             f'{e(_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))} · from {e(", ".join(sources))}</p>']
    if len(sections) > 1:
        parts.append('<nav class="kb-toc">' + "".join(f'<a href="#sec-{i}">{e(s.title)}</a>'
                                                      for i, s in enumerate(sections)) + "</nav>")
    n = 0
    for i, sec in enumerate(sections):
        parts.append(f'<section id="sec-{i}"><h2>{e(sec.title)}</h2><p class="kb-sub">{e(sec.subtitle)}</p>')
        for block in sec.blocks:
            if isinstance(block, Table):
                parts.append(_table(block))
            elif isinstance(block, Figure):
                parts.append(_figure(f"kb-fig-{n}", block))
                n += 1
            elif isinstance(block, Missing):
                parts.append(_missing(block))
            elif isinstance(block, Zero):
                parts.append(_zero(block))
        parts.append("</section>")
    parts.append(f"<script>{DRAW}</script></body></html>")
    return "\n".join(parts)
