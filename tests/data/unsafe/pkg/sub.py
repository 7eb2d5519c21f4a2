"""A submodule whose import writes the marker."""

from _marker import touch

WIDTH = 128
touch(__file__, "pkg/sub.py: module body")
