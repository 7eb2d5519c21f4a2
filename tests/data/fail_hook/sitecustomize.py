"""Test hook (tests/test_internal_error.py): make densecheck's engine fail on one file, in every process.

Put this directory on PYTHONPATH and set DENSECHECK_TEST_FAIL_ON to a file name: analysing that file then
raises (DENSECHECK_TEST_FAIL_MODE=raise, the default), or kills the process analysing it (exit, kill), in the
main process and in worker processes alike -- which a monkeypatch in the test process cannot reach.
"""

import os

_TARGET = os.environ.get("DENSECHECK_TEST_FAIL_ON")

if _TARGET:
    import signal

    import densecheck.engine as _analysis

    _real = _analysis.analyze_module

    def analyze_module(module, path, *rest):
        if os.path.basename(path) == _TARGET:
            mode = os.environ.get("DENSECHECK_TEST_FAIL_MODE", "raise")
            if mode == "exit":
                os._exit(70)
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError(f"injected failure on {_TARGET}")
        return _real(module, path, *rest)

    _analysis.analyze_module = analyze_module
