"""JUnit XML: one test suite per file, one failing test case per finding, one passing case for a clean
file."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from densecheck.formats import Context, cell_prefix, printable


def render(ctx: Context) -> str:
    diags = ctx.run.diagnostics
    tests = sum(max(len(f.result.diagnostics), 1) for f in ctx.run.files)
    suites = ET.Element(
        "testsuites", name="densecheck", tests=str(tests), failures=str(len(diags)), errors="0"
    )
    for f in ctx.run.files:
        path = ctx.display_path(f.path)
        found = f.diagnostics
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=path,
            tests=str(max(len(found), 1)),
            failures=str(len(found)),
            errors="0",
        )
        if not found:
            ET.SubElement(suite, "testcase", name="No problems found", classname=path)
            continue
        for d in found:
            where = f"{cell_prefix(d, ', ')}line {d.line}, col {d.column}"
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"org.densecheck.{d.code}",
                classname=path,
                file=path,
                line=str(d.line),
            )
            failure = ET.SubElement(case, "failure", message=printable(d.message), type=d.severity)
            failure.text = f"{where}, {d.code} {printable(d.message)}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
