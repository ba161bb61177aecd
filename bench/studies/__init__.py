"""One-off studies that write a results file under bench/results/."""
