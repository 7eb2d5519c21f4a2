"""A module shadowing 'libcst': if densecheck (or anything it imports) picks this up, the marker is written."""

import os

with open(os.environ.get("DENSECHECK_UNSAFE_MARKER") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                     "EXECUTED"), "a", encoding="utf-8") as fh:
    fh.write("shadow/libcst.py imported\n")
os._exit(7)
