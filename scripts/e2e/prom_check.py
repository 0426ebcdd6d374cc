"""Parses Prometheus text exposition (a scrape of dbc-node's /metrics) read from stdin with the
official parser, prometheus_client.parser.text_string_to_metric_families, and prints it as one
JSON object keyed by metric family name:

    {"<family name>": {"type": "counter|gauge|histogram|summary|untyped|...",
                       "samples": [{"name": ..., "labels": {...}, "value": ...}, ...]}, ...}

Family names vs sample names: prometheus_client's parser strips the `_total` suffix from a
counter's family name, so `# TYPE dbc_blocks_total counter` becomes the family key
`dbc_blocks`, while its samples keep their exposed name `dbc_blocks_total`. Likewise a
histogram's family `dbc_block_total_seconds` holds samples named `..._bucket` (with an `le`
label), `..._sum` and `..._count`. The output is keyed by family name (as the parser gives it);
sample names are left exactly as exposed, so look counters up by sample name when the exposed
name matters.

Values are JSON numbers; non-finite values (which JSON cannot hold) are written as the strings
"NaN", "+Inf" and "-Inf".

Exits non-zero with a message if the input does not parse, holds no metric family, or holds the
same family twice (which the text format forbids).

usage: curl -s http://127.0.0.1:9001/metrics | prom_check.py
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def value(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def main():
    text = sys.stdin.read()
    out = {}
    try:
        for family in text_string_to_metric_families(text):
            if family.name in out:
                sys.exit(f"prom_check: metric family {family.name!r} appears more than once")
            out[family.name] = {
                "type": family.type,
                "samples": [
                    {"name": s.name, "labels": dict(s.labels), "value": value(s.value)}
                    for s in family.samples
                ],
            }
    except Exception as e:  # the parser raises ValueError (and others) on malformed input
        sys.exit(f"prom_check: cannot parse the exposition: {type(e).__name__}: {e}")
    if not out:
        sys.exit("prom_check: the exposition holds no metric family")
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
