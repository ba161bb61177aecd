"""rhtann's benchmark harness.

Run it as ``rhtann-bench`` (installed with ``pip install "rhtann[bench]"``),
``python -m bench`` or ``bash bench/run.sh``.

Modules
-------
cli
    The command line and the main job.
config
    The YAML config (datasets, indexes, query sweeps) and its checks.
contenders
    The contender interface (:class:`bench.contenders.Contender`) and the
    registry: rhtann.Index, plain faiss, turbovec, rabitqlib.
runner
    Building, timing and scoring each run; JSON and CSV output.
metrics
    ann-benchmarks' recall rules, QPS, distortion, Pareto frontiers.
plots
    The PNGs and the Markdown summary.
specs
    Labels of spec strings (rotation, layout, quantizer); the only import
    of rhtann's spec parser in bench.
firstuse
    The one-time note while rhtann's kernels compile.

The stand-alone studies in ``bench/studies/`` run as scripts and import
nothing from here.
"""
