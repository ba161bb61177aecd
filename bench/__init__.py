"""rhtann's benchmark harness: ``python -m bench`` from the repository root.

Deliberately empty: scripts in this folder (``python bench/quality.py``...)
run on their own and must not import anything from here.
"""
