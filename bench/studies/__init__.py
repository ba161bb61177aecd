"""Stand-alone studies: each file runs as ``python bench/studies/NAME.py`` and writes bench/results/."""
