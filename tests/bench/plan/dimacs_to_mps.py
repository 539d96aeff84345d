#!/usr/bin/env python3
"""Writes the planner's transportation problem, read from the DIMACS file that
plan_bench --graph or --dense writes, as a free-format MPS model for the LP
and MIP solvers of Debian (glpsol, clp, cbc).

  dimacs_to_mps.py GRAPH OUT.mps            the relaxation: x = people on an arc
  dimacs_to_mps.py --integer GRAPH OUT.lp   households whole: y binary per arc,
                                            written as CPLEX LP (cbc reads its
                                            binaries there unambiguously)

Household rows are equalities (everyone goes somewhere, the "left out" sink
included at 10^8 per person), shelter rows are capacities.
"""
import sys


def main():
    args = sys.argv[1:]
    integer = False
    if args and args[0] == "--integer":
        integer = True
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    supply = {}
    arcs = []
    with open(args[0]) as f:
        for line in f:
            if line.startswith("n "):
                _, v, s = line.split()
                supply[int(v)] = int(s)
            elif line.startswith("a "):
                _, u, v, _lo, _cap, c = line.split()
                arcs.append((int(u), int(v), int(c)))
    sink = max(supply)
    if integer:
        write_lp(supply, arcs, sink, args[1])
        return
    with open(args[1], "w") as out:
        w = out.write
        w("NAME plan\nROWS\n N obj\n")
        for v, s in sorted(supply.items()):
            if s > 0:
                w(" E n%d\n" % v)
            elif v != sink:
                w(" L n%d\n" % v)
        w("COLUMNS\n")
        for k, (u, v, c) in enumerate(arcs):
            p = supply[u]
            if integer:
                w(" x%d obj %d n%d 1\n" % (k, c * p, u))
                if v != sink:
                    w(" x%d n%d %d\n" % (k, v, p))
            else:
                w(" x%d obj %d n%d 1\n" % (k, c, u))
                if v != sink:
                    w(" x%d n%d 1\n" % (k, v))
        w("RHS\n")
        for v, s in sorted(supply.items()):
            if s > 0:
                w(" rhs n%d %d\n" % (v, 1 if integer else s))
            elif v != sink:
                w(" rhs n%d %d\n" % (v, -s))
        w("ENDATA\n")


def write_lp(supply, arcs, sink, path):
    """Households whole: one binary per arc, capacity rows weighted by people."""
    rows = {}
    with open(path, "w") as out:
        w = out.write
        w("Minimize\n obj:")
        for k, (u, v, c) in enumerate(arcs):
            w(" + %d x%d" % (c * supply[u], k))
            if k % 8 == 7:
                w("\n")
            rows.setdefault(u, []).append((k, 1))
            if v != sink:
                rows.setdefault(v, []).append((k, supply[u]))
        w("\nSubject To\n")
        for v, terms in sorted(rows.items()):
            w(" n%d:" % v)
            for i, (k, a) in enumerate(terms):
                w(" + %d x%d" % (a, k))
                if i % 8 == 7:
                    w("\n")
            w(" = 1\n" if supply[v] > 0 else " <= %d\n" % -supply[v])
        w("Binaries\n")
        for k in range(len(arcs)):
            w(" x%d\n" % k)
        w("End\n")


if __name__ == "__main__":
    main()
