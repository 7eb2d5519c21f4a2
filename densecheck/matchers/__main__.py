"""``python -m densecheck.matchers``: regenerate the shipped problem-matcher files from the rule registry."""

from densecheck.matchers import GITHUB, VSCODE, write

write()
print(f"wrote {GITHUB}\nwrote {VSCODE}")
