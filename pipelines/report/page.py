"""The report's page: one HTML file with its style sheet inline and no script.

The Content-Security-Policy forbids every outside resource, so the file renders the same
offline, from an e-mail attachment or a shared drive, and can never call anywhere.
"""

from __future__ import annotations

from string import Template

# Aging buckets from "current" (green) to the oldest (dark red); currencies for lines.
BUCKET_COLOURS = ("#2b8a3e", "#8ac926", "#f2c12e", "#f08c00", "#e8590c", "#c92a2a", "#862e9c",
                  "#495057")
CURRENCY_COLOURS = ("#1c7ed6", "#e8590c", "#2b8a3e", "#9c36b5", "#0c8599", "#5c940d")


def _palette() -> str:
    # `svg .bN` outranks the default `svg .bar` fill (same specificity, later in the sheet).
    rules = [f"svg .b{i}{{fill:{c}}} .swatch.b{i}{{background:{c}}}"
             for i, c in enumerate(BUCKET_COLOURS)]
    rules += [f"svg .c{i}{{fill:{c};stroke:{c}}} .swatch.c{i}{{background:{c}}}"
              for i, c in enumerate(CURRENCY_COLOURS)]
    return "\n".join(rules)


CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  color:#1f2933;background:#f1f3f5}
header,nav,main,footer{max-width:1000px;margin:0 auto;padding:0 16px}
header{padding-top:24px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;margin:0 0 6px}
h3{font-size:15px;margin:18px 0 6px}
.meta,.source,.note,.lede{color:#52606d}
.meta{margin:0 0 12px}
.lede{margin:0 0 12px}
.source{font-size:12px;margin:12px 0 0}
.note{font-size:13px}
nav{margin-bottom:12px}
nav a{display:inline-block;margin:0 12px 4px 0;color:#1c7ed6;text-decoration:none}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);
  padding:18px 20px;margin:0 0 16px}
.warning{background:#fff3bf;border:1px solid #f2c12e;border-radius:6px;padding:8px 12px}
.empty{background:#f8f9fa;border:1px dashed #ced4da;border-radius:6px;padding:12px;color:#52606d;
  margin:8px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 280px;border:1px solid #dee2e6;border-radius:8px;padding:12px 14px}
.card-title{font-weight:600;color:#52606d}
.big{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}
.sub{color:#52606d;margin-top:4px}
.overdue{color:#c92a2a;font-weight:600}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{padding:5px 8px;border-bottom:1px solid #e9ecef;text-align:left;vertical-align:top}
th{font-size:12px;color:#52606d;font-weight:600;background:#f8f9fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.date{white-space:nowrap;font-variant-numeric:tabular-nums}
td.wrap{max-width:260px;overflow-wrap:anywhere}
.badge{display:inline-block;white-space:nowrap;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.lvl-0{background:#c92a2a}.lvl-1{background:#e8590c}.lvl-2{background:#f08c00}
.meter{display:inline-block;width:70px;height:8px;background:#e9ecef;border-radius:4px;
  margin-left:6px;vertical-align:middle;overflow:hidden}
.meter span{display:block;height:100%;background:#e8590c}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;color:#52606d;margin:4px 0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;
  vertical-align:baseline}
svg.chart{display:block;width:100%;max-width:760px;height:auto}
svg.split{display:block;width:100%;max-width:260px;height:12px;margin-top:8px;border-radius:3px}
svg text{font-family:inherit}
svg .label,svg .value{font-size:12px;fill:#1f2933}
svg .value{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg .axis{font-size:11px;fill:#6c757d}
svg .grid{stroke:#e9ecef}
svg .reference{stroke:#1f2933;stroke-dasharray:4 3}
svg .bar{fill:#1c7ed6}
svg .bar.neg{fill:#868e96}
svg .part.current{fill:#2b8a3e}
svg .part.overdue{fill:#c92a2a}
svg .att-ok{fill:#2b8a3e}
svg .att-mid{fill:#f08c00}
svg .att-low{fill:#c92a2a}
svg polyline.line{fill:none;stroke-width:2}
svg circle.point{stroke:#fff;stroke-width:1.5}
$palette
footer{color:#6c757d;font-size:12px;padding-bottom:24px}
@media print{
  body{background:#fff}
  section{box-shadow:none;border:1px solid #dee2e6;break-inside:avoid}
  nav{display:none}
}
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>$title</title>
<style>$css</style>
</head>
<body>
$body
</body>
</html>
""")


def page(title: str, body: str) -> str:
    """``title`` and ``body`` must already be escaped."""
    css = Template(CSS).substitute(palette=_palette())
    return PAGE.substitute(title=title, css=css, body=body)
