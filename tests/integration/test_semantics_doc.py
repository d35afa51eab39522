"""SEMANTICS.md and its tests agree.

A statement is defined in SEMANTICS.md as **[S-AREA-N]**; a test proves it
by naming [S-AREA-N] in its docstring (any tests/integration/test_*.py:
test_mount_*.py for the read side, test_write*.py, test_prefetch.py, this
file).  Fails when a statement has no test, a test names an unknown
statement, a statement is defined twice, or the document refers to an ID
it does not define.
"""
import ast
import pathlib
import re
import subprocess

from conftest import TOP, binary

DOC = TOP / "SEMANTICS.md"
HERE = pathlib.Path(__file__).resolve().parent
ID = r"S-[A-Z]+(?:-[A-Z]+)*-\d+"  # S-READ-1, S-CACHE-DISK-1


def doc_text():
    return DOC.read_text()


def defined_ids():
    return re.findall(r"\*\*\[(" + ID + r")\]\*\*", doc_text())


def proving_files():
    return sorted(HERE.glob("test_*.py"))


def collect_tested_ids():
    """{id: [test names]} from the docstrings of test functions."""
    found = {}
    for path in proving_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or \
                    not node.name.startswith("test_"):
                continue
            doc = ast.get_docstring(node) or ""
            for sid in re.findall(r"\[(" + ID + r")\]", doc):
                found.setdefault(sid, []).append(f"{path.name}::{node.name}")
    return found


def test_every_statement_has_a_test():
    tested = collect_tested_ids()
    missing = [sid for sid in defined_ids() if sid not in tested]
    assert missing == [], f"statements without a test: {missing}"


def test_every_tested_id_is_in_the_document():
    defined = set(defined_ids())
    unknown = {sid: tests for sid, tests in collect_tested_ids().items()
               if sid not in defined}
    assert unknown == {}, f"tests name IDs SEMANTICS.md lacks: {unknown}"


def test_ids_defined_once_and_references_resolve():
    ids = defined_ids()
    assert len(ids) >= 40
    dups = sorted({i for i in ids if ids.count(i) > 1})
    assert dups == [], f"defined more than once: {dups}"
    refs = set(re.findall(r"\[(" + ID + r")\]", doc_text()))
    assert refs - set(ids) == set(), "references to undefined IDs"


def test_ttl_defaults_match_the_binary():
    """[S-CACHE-6] The defaults SEMANTICS.md states are the ones
    `ossfs --help` prints."""
    r = subprocess.run([binary("src/ossfs"), "--help"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0
    helps = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s+(\w+)=\S+\s+.*\(default ([^)]+)\)", line)
        if m:
            helps[m.group(1)] = m.group(2)
    assert helps.get("attr_timeout") == "60"
    assert helps.get("dir_timeout") == "60"
    assert helps.get("negative_timeout") == "60"
    assert helps.get("cache_size") == "RAM/8"
    text = doc_text()
    section = text[text.index("**[S-CACHE-6]**"):]
    section = section[:section.index("\n- ")]
    assert "60 seconds" in section
    assert "an eighth of physical memory" in section
    for name in ("attr_timeout", "dir_timeout", "negative_timeout"):
        assert f"`{name}=`" in text
