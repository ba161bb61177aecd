"""Codecs applied after the rotation: code layout, encoding, decoding and scanning.

See :mod:`rhtann.codecs.base` for the interface every codec implements.
"""
