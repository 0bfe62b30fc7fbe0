#!/usr/bin/env python3
"""Summarise `perf script` output (recorded with --call-graph dwarf) per thread: share of
samples per thread, then for the busiest thread (the libuv loop thread) and for the other
threads together, the functions with the largest inclusive share (a function counted once
per sample however often it recurs on the stack) and the largest self share.

    perf script -i perf.data | python3 bench/perfsum.py [--top 40]
"""
import argparse
import collections
import re
import sys

HEAD = re.compile(r"^(\S.*?)\s+(\d+)\s+[\d.]+:\s+\d+\s+\S+:")
FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$")


def clean(sym):
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    sym = sym.replace(" (inlined)", "")
    return sym


def samples(stream):
    tid, frames = None, []
    for line in stream:
        m = HEAD.match(line)
        if m:
            if tid is not None:
                yield tid, frames
            tid, frames = int(m.group(2)), []
            continue
        f = FRAME.match(line)
        if f and tid is not None:
            sym, dso = clean(f.group(1)), f.group(2)
            if sym.startswith("[unknown]") or re.fullmatch(r"[0-9a-fx]+", sym):
                sym = "?? (%s)" % dso.rsplit("/", 1)[-1]
            frames.append(sym)
    if tid is not None:
        yield tid, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    per_tid = collections.defaultdict(list)
    for tid, frames in samples(sys.stdin):
        per_tid[tid].append(frames)
    total = sum(len(v) for v in per_tid.values())
    if not total:
        print("no samples")
        return
    print("samples: %d" % total)
    ordered = sorted(per_tid, key=lambda t: -len(per_tid[t]))
    for t in ordered:
        print("  thread %-8d %5.1f%%" % (t, 100.0 * len(per_tid[t]) / total))
    groups = [("loop thread %d" % ordered[0], per_tid[ordered[0]])]
    rest = [s for t in ordered[1:] for s in per_tid[t]]
    if rest:
        groups.append(("other threads (thread pool, resolver)", rest))
    for name, ss in groups:
        incl, self_ = collections.Counter(), collections.Counter()
        for frames in ss:
            for sym in set(frames):
                incl[sym] += 1
            if frames:
                self_[frames[0]] += 1
        print("\n%s: %d samples (%.1f%% of all)" % (name, len(ss), 100.0 * len(ss) / total))
        print("  inclusive (% of all samples)           self (% of all samples)")
        a = incl.most_common(args.top)
        b = self_.most_common(args.top)
        for i in range(max(len(a), len(b))):
            left = "%5.1f%%  %-30.30s" % (100.0 * a[i][1] / total, a[i][0]) if i < len(a) else " " * 38
            right = "%5.1f%%  %s" % (100.0 * b[i][1] / total, b[i][0]) if i < len(b) else ""
            print("  %s  %s" % (left, right))


if __name__ == "__main__":
    main()
