"""Run crash-prone cases in a child Python, so a segfault or abort fails a test instead of pytest.

The child runs ``body`` (Python source) with ``case(name, fn)`` defined: each
case calls ``fn()`` and records ``"ok"`` with its repr, or the exception's type
and message. The child prints one JSON line per case as it goes, so a crash
names the case that was running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

_PRELUDE = '''
import json, sys
def case(name, fn):
    print(json.dumps({"case": name, "start": True}), flush=True)
    try:
        out = fn()
        res = {"case": name, "result": "ok", "value": repr(out)[:200]}
    except Exception as exc:  # the parent inspects the type and message
        res = {"case": name, "result": type(exc).__name__, "message": str(exc)[:500]}
    print(json.dumps(res), flush=True)
'''


def run_cases(body: str, timeout: float = 120.0) -> dict[str, dict]:
    """Run ``body`` in a fresh interpreter; return case name -> result record.

    Raises
    ------
    AssertionError
        If the child dies from a signal, exits non-zero, or runs past ``timeout``
        (naming the case that was running).
    """
    code = _PRELUDE + textwrap.dedent(body)
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"child hung past {timeout} s; output so far: {exc.stdout!r}") from None
    results: dict[str, dict] = {}
    running = None
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if rec.get("start"):
            running = rec["case"]
        else:
            results[rec["case"]] = rec
            running = None
    if proc.returncode != 0:
        raise AssertionError(
            f"child exited with {proc.returncode} (signal if negative) while running case "
            f"{running!r}; stderr tail: {proc.stderr[-800:]}"
        )
    return results
