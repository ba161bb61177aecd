"""Fuzzing the loaders: mutated, forged and foreign files raise FormatError, never anything else.

Seeded and bounded (a few hundred mutations per format). The loads run in a
child process so that a crash in native code fails the test.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
from subproc import run_cases

import rhtann

N_MUTATIONS = 200

_BODY = """
import json, sys
from pathlib import Path
import numpy as np
import rhtann
sys.path.insert(0, {tests!r})
from fuzz_files import mutate
src = Path({src!r}).read_bytes()
work = Path({work!r})
rng = np.random.default_rng({seed})
tally = {{}}
raw = []
for i in range({n}):
    kind, blob = mutate(src, rng)
    p = work / f"m{{i}}.rht"
    p.write_bytes(blob)
    try:
        obj = rhtann.load(p)
        if isinstance(obj, rhtann.Index) and obj.is_trained and obj.ntotal:
            obj.search(np.zeros((1, obj.d), dtype="float32"), 1)
        if isinstance(obj, rhtann.RHT) and obj.is_trained:
            obj.apply(np.ones((2, obj.d_in), dtype="float32"))
        out = "loaded"
    except rhtann.FormatError:
        out = "FormatError"
    except Exception as exc:
        out = "raw"
        raw.append((kind, type(exc).__name__, str(exc)[:200]))
    p.unlink()
    tally[f"{{kind}}:{{out}}"] = tally.get(f"{{kind}}:{{out}}", 0) + 1
case("tally", lambda: json.dumps(tally))
case("raw", lambda: json.dumps(raw[:5]))
"""


def _fuzz(tmp_path: Path, src: Path, seed: int) -> dict:
    work = tmp_path / "work"
    work.mkdir()
    here = str(Path(__file__).parent)
    body = _BODY.format(tests=here, src=str(src), work=str(work), seed=seed, n=N_MUTATIONS)
    res = run_cases(body, timeout=300)
    assert res["raw"]["value"] == repr("[]"), res["raw"]
    return json.loads(ast.literal_eval(res["tally"]["value"]))


def _check(tally: dict) -> None:
    print(tally)
    assert sum(tally.values()) == N_MUTATIONS
    # Truncations, stale checksums and foreign files never load.
    for kind in ("truncate", "flip", "foreign"):
        assert tally.get(f"{kind}:loaded", 0) == 0, tally
    assert tally.get("forge:FormatError", 0) > 0


def test_fuzz_rht_files(tmp_path):
    src = tmp_path / "t.rht"
    rhtann.RHT(40, rounds="auto", layout="keep").train(
        np.random.default_rng(0).standard_normal((50, 40)).astype("float32")
    ).save(src)
    _check(_fuzz(tmp_path, src, 1))


def test_fuzz_index_files(tmp_path):
    x = np.random.default_rng(1).standard_normal((300, 24)).astype("float32")
    src = tmp_path / "i.rht"
    ix = rhtann.Index(24, "RHT2,IVF4,SQ8")
    ix.train(x)
    ix.add(x)
    ix.save(src)
    _check(_fuzz(tmp_path, src, 2))


def test_fuzz_adaptive_index_files(tmp_path):
    x = np.random.default_rng(2).standard_normal((300, 24)).astype("float32")
    x[::3, 3:] = 0
    src = tmp_path / "a.rht"
    ix = rhtann.Index(24, "RHT,SQ8", adaptive=True)
    ix.train(x)
    ix.add(x)
    ix.save(src)
    _check(_fuzz(tmp_path, src, 3))
