"""Stand-alone studies (public API only): each runs as ``python -m bench.studies.NAME`` and writes bench/results/."""
