"""Stand-alone studies using the public API: ``python -m bench.studies.NAME`` writes bench/results/."""
