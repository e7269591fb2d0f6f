"""Generated and bundled data sets: the demo company and the benchmark generator."""
