"""JUnit XML for rule test results, so CI shows each rule test like any other test.

One ``<testsuite>`` per test file, one ``<testcase>`` per test; a failed test carries a
``<failure>`` with the diff, a file that could not be loaded one ``<error>``.

Examples:
    >>> from rules.tools.testing import CaseResult, FileResult
    >>> cases = [CaseResult("fires"), CaseResult("quiet", ["- missing x"])]
    >>> fr = FileResult("tests/surge.yaml", cases)
    >>> root = ElementTree.fromstring(junit_xml([fr]))
    >>> root.get("tests"), root.get("failures"), root.find("testsuite/testcase/failure") is not None
    ('2', '1', True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree

from rules.tools.testing import FileResult

# Characters XML 1.0 cannot hold (control characters but tab, newline and return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    r"""``text`` with the characters XML cannot hold shown as ``\xNN``.

    >>> _xml_text("cit\x1b[31m")
    'cit\\x1b[31m'
    """
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _suite(fr: FileResult) -> ElementTree.Element:
    suite = ElementTree.Element("testsuite", name=_xml_text(fr.path))
    for r in fr.results:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=_xml_text(fr.path),
            name=_xml_text(r.name),
            time=f"{r.elapsed_s:.3f}",
        )
        if not r.ok:
            failure = ElementTree.SubElement(
                case,
                "failure",
                message=f"{len(r.problems)} failed check(s)",
                type="RuleTestFailure",
            )
            failure.text = _xml_text("\n".join(r.problems))
    for err in fr.errors:
        case = ElementTree.SubElement(suite, "testcase", classname=fr.path, name="load", time="0")
        error = ElementTree.SubElement(
            case, "error", message=_xml_text(err.message), type=type(err).__name__
        )
        error.text = _xml_text(str(err))
    suite.set("tests", str(len(fr.results) + len(fr.errors)))
    suite.set("failures", str(fr.failed))
    suite.set("errors", str(len(fr.errors)))
    suite.set("time", f"{fr.elapsed_s:.3f}")
    return suite


def junit_xml(results: Sequence[FileResult]) -> str:
    """The results as a JUnit XML document (text)."""
    root = ElementTree.Element("testsuites", name="riskloop rules test")
    suites = [_suite(fr) for fr in results]
    root.extend(suites)
    for attr in ("tests", "failures", "errors"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in suites)))
    root.set("time", f"{sum(fr.elapsed_s for fr in results):.3f}")
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(results: Sequence[FileResult], path: str | Path) -> None:
    Path(path).write_text(junit_xml(results), encoding="utf-8")
