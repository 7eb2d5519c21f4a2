"""Shared by the unsafe fixtures: where the marker goes. (Importing this module is harmless.)"""

import os


def marker_path(here: str) -> str:
    return os.environ.get("DENSECHECK_UNSAFE_MARKER") or os.path.join(os.path.dirname(os.path.abspath(here)),
                                                                       "EXECUTED")


def touch(here: str, what: str) -> str:
    with open(marker_path(here), "a", encoding="utf-8") as fh:
        fh.write(f"{what}\n")
    return what
