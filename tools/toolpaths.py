"""Where things are, for every Python script under tools/, wherever it is run from.

A script in tools/<folder>/ starts with

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
    from toolpaths import ROOT  # noqa: E402

Importing this module also puts every tools/ folder on sys.path, so scripts import each other by
module name across folders (`import dolly_template`, `from make_fixtures import load_hf`,
`from demo_data import read_arrow`); module names are unique across the folders.
"""
import os
import sys

TOOLS = os.path.dirname(os.path.realpath(__file__))  # <repository>/tools
ROOT = os.path.dirname(TOOLS)                          # the repository root
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
VENV_PYTHON = os.path.join(TOOLS, ".venv", "bin", "python")

FOLDERS = ("fixtures", "demo", "analysis", "bench")
for _folder in reversed(FOLDERS):
    _path = os.path.join(TOOLS, _folder)
    if _path not in sys.path:
        sys.path.insert(1, _path)
