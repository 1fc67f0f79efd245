#!/usr/bin/env python3
"""The comparison step of bench/postfix-crosscheck.sh and bench/exim-crosscheck.sh.

Reads three count files and prints one row per count:
  AWK     "name value" lines of the independent awk count, each name also
          as name_SUFFIX: the same count made the oracle's way;
  ORACLE  "name value" lines of the oracle (pflogsumm, eximstats), or "-"
          when it did not run;
  JSON    `mailscope replay --format=json` output.
Exits 1 when mailscope differs from the awk count, or the oracle from the
awk count made its way, or (--max-unparsed) too many lines were unparsed.
"""
import argparse
import json
import sys


def load(path):
    if path == "-":
        return {}
    with open(path) as f:
        return {k: int(v) for k, v in (line.split() for line in f if line.strip())}


def mailscope_counts(path):
    with open(path) as f:
        c = json.load(f)
    d = c["deliveries"]
    return {
        "received": c["received"],
        "delivered": d.get("sent", 0),
        "deferred": d.get("deferred", 0),
        "bounced": d.get("bounced", 0),
        "expired": d.get("expired", 0),
        # Exim writes one "**" line for both: mailscope's bounced + expired.
        "failed": d.get("bounced", 0) + d.get("expired", 0),
        "rejected": c["rejected"],
        "lines": c["lines"],
        "unparsed": c["unparsed"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", required=True, help="comma-separated count names, in row order")
    ap.add_argument("--oracle", required=True, help="the oracle's name, for the header")
    ap.add_argument("--suffix", required=True, help="the awk file's suffix of the oracle-way counts")
    ap.add_argument("--awk-column", required=True, help="header of the oracle-way awk column")
    ap.add_argument("--no-oracle", default="", help="comma-separated counts the oracle has no figure for")
    ap.add_argument("--max-unparsed", type=float, default=None, help="fail at this share of unparsed lines or more (0.005 = 0.5%%)")
    ap.add_argument("awk")
    ap.add_argument("oracle_file")
    ap.add_argument("json")
    a = ap.parse_args()

    awk, oracle, ms = load(a.awk), load(a.oracle_file), mailscope_counts(a.json)
    skip = set(filter(None, a.no_oracle.split(",")))
    upper = a.oracle.upper()
    bad = []
    print("%-10s %8s %13s %10s %10s  %s" % ("count", "awk", a.awk_column, a.oracle, "mailscope", ""))
    for name in a.counts.split(","):
        own, theirs, m = awk[name], awk[name + "_" + a.suffix], ms[name]
        o = None if name in skip else oracle.get(name)
        notes = []
        if m != own:
            notes.append(name + ": MAILSCOPE DIFFERS")
        if oracle and name not in skip:
            if o is None:
                notes.append("%s: %s COUNT MISSING" % (name, upper))
            elif o != theirs:
                notes.append("%s: %s DIFFERS" % (name, upper))
        bad += notes
        print("%-10s %8d %13d %10s %10d  %s" % (name, own, theirs, "-" if o is None else o, m, " ".join(notes) or "ok"))
    lines, unparsed = ms["lines"], ms["unparsed"]
    print("mailscope read %d lines, %d unparsed (%.2f%%)" % (lines, unparsed, 100.0 * unparsed / max(lines, 1)))
    if a.max_unparsed is not None and lines and unparsed >= a.max_unparsed * lines:
        bad.append("unparsed: %.1f%% or more" % (100 * a.max_unparsed))
    return bad


if __name__ == "__main__":
    problems = main()
    if problems:
        sys.exit("cross-check failed: " + ", ".join(problems))
