"""Checks that every metric a Grafana dashboard queries is one the node exports.

Collects the PromQL of every panel target (rows' nested panels included) and of every query
template variable (`label_values(metric, label)` included), extracts the metric names from it,
strips a histogram's `_bucket` / `_sum` / `_count` suffix, and checks each name against the
exported names. `_total` is NOT stripped: give counter names as the node exports them
(`dbc_blocks_total`), not as prometheus_client's parser names the family (`dbc_blocks`).
Prints a JSON summary; exits non-zero if a queried metric is not exported, or if the dashboard
has no expressions at all.

usage: check_dashboard.py DASHBOARD.json NAME...
       check_dashboard.py DASHBOARD.json --types FILE    (FILE `-` = stdin)

FILE is Prometheus text exposition, e.g. a raw scrape of /metrics, or just its `# TYPE` lines:
the name of every `# TYPE name type` line and of every sample line is an exported name. Names
given (either way) have their `_bucket` / `_sum` / `_count` suffix stripped too, so sample names
and family names both work.
"""
import json
import re
import sys

HIST_SUFFIXES = ("_bucket", "_sum", "_count")

# PromQL words that look like identifiers but are not metric names (functions and aggregations
# are recognised by the `(` after them instead).
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "atan2", "inf", "nan",
}


def base(name):
    for suffix in HIST_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def metric_names(expr):
    """The metric names an expression selects (without the histogram suffix stripped)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)  # string literals
    e = re.sub(r"\$\{[^}]*\}|\$\w+", " ", e)  # Grafana variables ($__rate_interval, ${x}, ...)
    e = re.sub(r"\{[^{}]*\}", " ", e)  # label matchers (they hold label names)
    e = re.sub(r"\[[^\[\]]*\]", " ", e)  # range / subquery durations
    # grouping / matching clauses hold label names: by (le, kind), on(instance), group_left(x)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", e)
    # label_values(metric, label) / label_values(label): keep only the metric argument
    e = re.sub(r"\blabel_values\s*\(\s*([A-Za-z_:][\w:]*)\s*,[^()]*\)", r" \1 ", e)
    e = re.sub(r"\blabel_values\s*\([^()]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):  # a function or aggregation call
            continue
        if word.lower() in KEYWORDS:
            continue
        names.add(word)
    # a selector written only as {__name__="x"}
    for m in re.finditer(r'__name__\s*=\s*"([A-Za-z_:][\w:]*)"', expr):
        names.add(m.group(1))
    return names


def expressions(dashboard):
    """(where, expr) for every panel target and query variable of the dashboard."""
    out = []

    def walk(panels):
        for p in panels or []:
            for t in p.get("targets") or []:
                if isinstance(t, dict) and t.get("expr"):
                    out.append((f"panel {p.get('title')!r} {t.get('refId', '')}", t["expr"]))
            walk(p.get("panels"))

    walk(dashboard.get("panels"))
    for v in (dashboard.get("templating") or {}).get("list") or []:
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query") or q.get("expr")
        if q:
            out.append((f"variable {v.get('name')!r}", q))
    return out


def exported_from_text(text):
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 3:
                names.add(parts[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    with open(argv[1]) as f:
        dashboard = json.load(f)
    if argv[2] == "--types":
        if len(argv) != 4:
            sys.exit(__doc__)
        text = sys.stdin.read() if argv[3] == "-" else open(argv[3]).read()
        exported = exported_from_text(text)
    else:
        exported = set(argv[2:])
    exported = {base(n) for n in exported}
    if not exported:
        sys.exit("check_dashboard: no exported metric names given")

    exprs = expressions(dashboard)
    if not exprs:
        sys.exit("check_dashboard: the dashboard has no PromQL expressions")
    used = {}
    for where, expr in exprs:
        for name in metric_names(expr):
            used.setdefault(base(name), []).append(where)
    missing = {n: sorted(set(w)) for n, w in sorted(used.items()) if n not in exported}
    print(json.dumps({
        "expressions": len(exprs),
        "used": sorted(used),
        "unused_exported": sorted(exported - set(used)),
        "missing": missing,
    }, indent=2))
    if missing:
        sys.exit("check_dashboard: the dashboard queries metrics the node does not export: "
                 + ", ".join(missing))


if __name__ == "__main__":
    main(sys.argv)
