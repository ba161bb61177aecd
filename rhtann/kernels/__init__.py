"""Every numba-compiled function of rhtann: arrays in, arrays out.

Modules here import numpy, numba and llvmlite only: no faiss, no classes of
the upper layers, no allocation inside hot loops.
"""
