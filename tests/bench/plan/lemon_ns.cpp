// Benchmark-only: solves a DIMACS min-cost flow file (as plan_bench --graph
// writes it) with LEMON's NetworkSimplex (block search, demands may stay
// unmet: supply type GEQ) and prints the optimum, the solve time (reading
// excluded) and the peak memory.
//
//   lemon_ns FILE
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sys/resource.h>

#include <lemon/dimacs.h>
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

using namespace lemon;

typedef SmartDigraph Digraph;

int
main(int argc, char **argv)
{
	if (argc < 2) {
		std::fprintf(stderr, "usage: lemon_ns FILE\n");
		return 2;
	}
	std::ifstream is(argv[1]);
	Digraph g;
	Digraph::ArcMap<long long> lower(g), cap(g), cost(g);
	Digraph::NodeMap<long long> sup(g);
	readDimacsMin(is, g, lower, cap, cost, sup);

	auto t0 = std::chrono::steady_clock::now();
	long long total = -1;
	const char *status = "?";
	{
		NetworkSimplex<Digraph, long long, long long> ns(g);
		ns.upperMap(cap).costMap(cost).supplyMap(sup).supplyType(ns.GEQ);
		auto r = ns.run(NetworkSimplex<Digraph, long long, long long>::BLOCK_SEARCH);
		status = r == ns.OPTIMAL      ? "optimal"
		         : r == ns.INFEASIBLE ? "infeasible"
		                              : "unbounded";
		if (r == ns.OPTIMAL)
			total = ns.totalCost<long long>();
	}
	double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	std::printf("lemon network simplex: %s cost %lld nodes %d arcs %d solve %.3f s peak memory "
	            "%.1f MB\n",
	            status, total, countNodes(g), countArcs(g), secs, ru.ru_maxrss / 1024.0);
	return 0;
}
