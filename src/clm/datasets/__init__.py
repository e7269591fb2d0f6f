"""Generated and bundled data sets: the demo company and the benchmark generator.

``generate_demo`` / ``write_demo`` build the demo company of ``clm demo`` (the story is in
``docs/demo.md``); ``clm.datasets.bench.generate_bench`` writes the large Parquet benchmark
data. Importing this package draws nothing.
"""

from clm.datasets.archetypes import ARCHETYPES, Archetype
from clm.datasets.demo import DemoData, generate_demo, write_demo

__all__ = ["ARCHETYPES", "Archetype", "DemoData", "generate_demo", "write_demo"]
