"""Parsing of index specs and metric names."""

from __future__ import annotations

import pytest

import rhtann
from rhtann.index.spec import DEFAULT_LAYOUT, DEFAULT_ROUNDS, parse_spec


@pytest.mark.parametrize(
    "spec, rounds, layout, key",
    [
        ("RHT,SQ4", 3, "pad", "SQ4"),
        ("RHT2,IVF1024,SQ8", 2, "pad", "IVF1024,SQ8"),
        ("RHTauto,IVF256,PQ16x4fs,RFlat", "auto", "pad", "IVF256,PQ16x4fs,RFlat"),
        ("RHT3pad,HNSW32,SQtqmse4", 3, "pad", "HNSW32,SQtqmse4"),
        ("RHT,IVF256,RaBitQ4", 3, "pad", "IVF256,RaBitQ4"),
        ("RHT1keep,RaBitQ", 1, "keep", "RaBitQ"),
        ("RHTautoauto,SQ8", "auto", "auto", "SQ8"),
        ("RHTkeep,SQ8", 3, "keep", "SQ8"),
        (" RHT2 , SQ8 ", 2, "pad", "SQ8"),
    ],
)
def test_rht_token(spec, rounds, layout, key):
    s = parse_spec(spec)
    assert s.has_rht
    assert (s.rounds, s.layout, s.faiss_key) == (rounds, layout, key)
    assert s.rht_token == f"RHT{rounds}{layout}"


def test_defaults_equal_faiss_hr():
    # The bare token is 3 padded rounds: the transform faiss calls HR.
    assert (DEFAULT_ROUNDS, DEFAULT_LAYOUT) == (3, "pad")


@pytest.mark.parametrize("spec", ["SQ4", "HR,SQ4", "RR,PQ16", "IVF64,Flat", "L2norm,HR,Flat"])
def test_plain_faiss_spec(spec):
    s = parse_spec(spec)
    assert not s.has_rht and s.faiss_key == spec and s.rht_token == ""


@pytest.mark.parametrize(
    "spec, match",
    [
        ("RHT4,SQ4", r"rounds must be one of"),
        ("RHT0,SQ4", r"rounds must be one of"),
        ("RHTfoo,SQ4", r"layout must be one of"),
        ("RHT2x,SQ4", r"layout must be one of"),
        ("RHT-1,SQ4", r"unknown RHT token 'RHT-1'"),
        ("SQ4,RHT", r"must come first"),
        ("RHT", r"no faiss index after it"),
        ("RHT,", r"no faiss index after it"),
        ("", r"spec is empty"),
        ("   ", r"spec is empty"),
    ],
)
def test_bad_spec(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_spec(spec)


def test_spec_type():
    with pytest.raises(TypeError, match="spec must be a string"):
        parse_spec(5)


@pytest.mark.parametrize("spec, token", [("RHT,SQ7", "SQ7"), ("SQ3", "SQ3"), ("RHT,Foo12", "Foo12")])
def test_unknown_faiss_token_names_it(spec, token):
    with pytest.raises(ValueError, match=f"faiss cannot build.*{token}"):
        rhtann.Index(64, spec)


def test_faiss_constraint_error_is_readable():
    # PQ17 does not divide 64: checked before faiss, no C++ location in the message.
    with pytest.raises(ValueError, match=r"PQ sub-quantizer count M \(PQ17\).*must divide") as info:
        rhtann.Index(64, "RHT,PQ17")
    assert "index_factory.cpp" not in str(info.value) and "Error in" not in str(info.value)
