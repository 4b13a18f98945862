"""Bundles libdolly into the package when one is at hand (pyproject.toml holds the metadata).

At install time the shared library (libDollyC.so) is copied next to the Python files from, in
order: $DOLLY_LIBRARY, the repository's .build/release, its .build/debug. Without one the package
installs anyway and looks for the library when imported ($DOLLY_LIBRARY, then the system's).
Build it first: `swift build -c release --product DollyC` at the repository's root.
"""
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NAME = "libDollyC.so"
REPOSITORY = Path(__file__).resolve().parents[2]


def find_library():
    candidates = [os.environ.get("DOLLY_LIBRARY")]
    candidates += [str(REPOSITORY / ".build" / config / NAME) for config in ("release", "debug")]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


class BundleLibrary(build_py):
    def run(self):
        super().run()
        library = find_library()
        if library is None:
            print(f"dolly-cpu: no {NAME} found; set DOLLY_LIBRARY at run time")
            return
        target = Path(self.build_lib) / "dollycpu" / NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library, target)
        print(f"dolly-cpu: bundled {library}")


setup(cmdclass={"build_py": BundleLibrary})
