"""The parts of bench/bench_soak.py: plan, load, cards, oracle, memory, report."""
