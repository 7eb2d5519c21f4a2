import os
import sys

# `python -m densecheck` puts the current directory first on sys.path, where a checked project's json.py or
# random.py would shadow the standard library modules densecheck itself imports. densecheck never imports the
# code it checks, so that entry goes before anything else is imported.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from densecheck.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
