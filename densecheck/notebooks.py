"""Jupyter notebooks: code cells -> one virtual Python module -> findings located as ``cell N, line L``.

The code cells are concatenated in order (a model defined in one cell is used in the next), each starting on a
fresh line. IPython syntax is neutralised line for line so that line numbers keep mapping back:

* a line magic or shell escape (``%pip install x``, ``!ls``) becomes ``pass`` at the same indentation, and an
  assignment from one (``files = !ls``) becomes ``files = None``; a help query (``obj?``) becomes ``pass``;
* a cell magic (``%%bash``) blanks its whole cell — except the magics whose body is Python (``%%time``,
  ``%%timeit``, ``%%capture``, ...), where only the magic line is blanked.

Cells are numbered from 1 counting every cell, markdown included, as they appear in the notebook file.
Notebooks whose kernel language is not Python are skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace

from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic
from densecheck.layers import LayerReport

#: cell magics whose body is plain Python
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "python", "python3", "pypy"}

_MAGIC = re.compile(r"^(\s*)[%!]")
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!]")
_HELP = re.compile(r"^(\s*)(?:\?+[\w.]*|[\w.]+\?{1,2})\s*$")


class NotebookError(ValueError):
    """The file is not a notebook densecheck can read."""


@dataclass
class Cell:
    number: int  # 1-based position in the notebook, every cell counted
    lines: list[str]  # the cell's source as written


@dataclass
class Notebook:
    cells: list[Cell] = field(default_factory=list)  # code cells only
    source: str = ""  # the virtual module
    line_map: list[tuple[int, int]] = field(default_factory=list)  # virtual line - 1 -> (cell, line in cell)

    def locate(self, line: int) -> tuple[int, int]:
        if not self.line_map:
            return (1, 1)
        return self.line_map[min(max(line, 1), len(self.line_map)) - 1]

    def cell_lines(self, number: int) -> list[str]:
        return next((c.lines for c in self.cells if c.number == number), [])


def _source_lines(cell: dict, number: int) -> list[str]:
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(part, str) for part in src):
        return "".join(src).splitlines()
    if isinstance(src, str):
        return src.splitlines()
    raise NotebookError(f"cell {number}: 'source' is not a string or a list of strings")


def _neutralise(lines: list[str]) -> list[str]:
    if lines and lines[0].lstrip().startswith("%%"):
        name = lines[0].lstrip()[2:].split(maxsplit=1)[0] if lines[0].strip() != "%%" else ""
        if name not in PYTHON_CELL_MAGICS:
            return [""] * len(lines)
        lines = [""] + lines[1:]
    out = []
    continued = False
    for line in lines:
        if continued:  # the continuation of a magic line ending in a backslash
            out.append("")
            continued = line.endswith("\\")
            continue
        m = _ASSIGN_MAGIC.match(line)
        if m:
            out.append(f"{m.group(1)}{m.group(2)} = None")
            continued = line.endswith("\\")
            continue
        m = _MAGIC.match(line) or _HELP.match(line)
        if m:
            out.append(f"{m.group(1)}pass")
            continued = line.endswith("\\")
            continue
        out.append(line)
    return out


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def looks_like_notebook(data: bytes) -> bool:
    """Whether bytes with no file name to go by are a Jupyter notebook: a JSON object with a ``cells`` list
    and an ``nbformat`` (a Python file that is a dict literal is not)."""
    if not data.lstrip()[:1] == b"{" or b'"cells"' not in data or b'"nbformat"' not in data:
        return False
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("cells"), list) and "nbformat" in doc


def parse_notebook(text: str) -> Notebook | None:
    """The virtual module of a notebook, or None when its kernel is not Python. Raises NotebookError."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"invalid notebook JSON: {e}") from None
    except RecursionError:
        raise NotebookError("invalid notebook JSON: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        if isinstance(doc, dict) and "worksheets" in doc:
            raise NotebookError(
                "unsupported notebook format (nbformat 3); convert it with `jupyter nbconvert "
                "--to notebook --nbformat 4`"
            )
        raise NotebookError("not a Jupyter notebook: no 'cells' list")
    meta = _mapping(doc.get("metadata"))
    lang = _mapping(meta.get("language_info")).get("name") or _mapping(meta.get("kernelspec")).get("language")
    if isinstance(lang, str) and lang.lower() not in ("python", "python3", "ipython", "ipython3"):
        return None
    nb = Notebook()
    parts: list[str] = []
    for number, cell in enumerate(doc["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        lines = _source_lines(cell, number)
        nb.cells.append(Cell(number, lines))
        parts.extend(_neutralise(lines))
        nb.line_map.extend((number, i) for i in range(1, len(lines) + 1))
    nb.source = "\n".join(parts) + ("\n" if parts else "")
    return nb


# -- mapping results back to cells
# -------------------------------------------------------------------------------
@dataclass
class CellLayerReport(LayerReport):
    """A LayerReport located in a notebook cell: ``line``/``end_line`` count within ``cell``."""

    cell: int | None = None

    def to_json(self) -> dict:
        return {**super().to_json(), "cell": self.cell}


def _span(nb: Notebook, line: int, end_line: int, end_column: int) -> tuple[int, int, int, int]:
    cell, local = nb.locate(line)
    end_cell, end_local = nb.locate(end_line)
    if end_cell != cell:  # a span cannot leave its cell; clamp to the cell's last line
        end_local = max(len(nb.cell_lines(cell)), local)
        end_column = len(nb.cell_lines(cell)[end_local - 1]) + 1 if nb.cell_lines(cell) else 1
    return cell, local, end_local, end_column


def map_diagnostic(nb: Notebook, d: Diagnostic) -> Diagnostic:
    cell, line, end_line, end_column = _span(nb, d.line, d.end_line, d.end_column)
    return replace(d, cell=cell, line=line, end_line=end_line, end_column=end_column)


def map_layer(nb: Notebook, layer: LayerReport) -> CellLayerReport:
    cell, line, end_line, end_column = _span(nb, layer.line, layer.end_line, layer.end_column)
    values = {f.name: getattr(layer, f.name) for f in fields(layer) if f.init}
    values.update(line=line, end_line=end_line, end_column=end_column, cell=cell)
    return CellLayerReport(**values)


def analyze_notebook(data: bytes | str, path: str, settings: Settings | None = None):
    """(FileResult with cell-located layers and diagnostics, Notebook or None)."""
    from densecheck import api

    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        nb = parse_notebook(text)
    except (NotebookError, UnicodeDecodeError) as e:
        from densecheck import findings
        from densecheck.config import Settings

        bad = api.FileResult(path, notes=[api._file_diagnostic(path, "DC001", f"cannot read notebook: {e}")])
        return findings.finish(bad, settings or Settings()), None
    if nb is None:
        return api.FileResult(path), None
    # a notebook's facts are final once analysed (nothing imports a notebook, trace targets are modules), so
    # its findings are computed here, in source coordinates, and only then mapped to its cells
    result = api.analyze_source(nb.source, path, settings)
    result.layers = [map_layer(nb, layer) for layer in result.layers]
    result.diagnostics = [map_diagnostic(nb, d) for d in result.diagnostics]
    result.final = True
    return result, nb
