"""Record the versions the saved notebook outputs were made with: ``constraints.txt``.

Strict nbval compares every output with the saved one, so a newer pandas repr or matplotlib
default can turn the tests red with nothing wrong in the course. Every install (the README's,
``.ci/run`` and ``environment.yml``) passes ``-c constraints.txt``, so everyone gets these
versions. The file lists the installed closure of ``deepfm-lite[course,dev,teach]``: every
package those extras need, directly or not, at the version installed here.

    python scripts/freeze_constraints.py           # rewrite constraints.txt from this environment
    python scripts/freeze_constraints.py --check   # list installed versions that differ from it

To refresh (a maintainer, in one commit): upgrade what you want, re-run and save every notebook
(``python scripts/run_notebooks.py``), run the tests, then rewrite the file with this script.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
PROJECT = "deepfm-lite"
EXTRAS = ("course", "dev", "teach")
HEADER = """\
# The versions the saved notebook outputs were made with (Python 3.11, Linux).
# Written by `python scripts/freeze_constraints.py`; every install passes `-c constraints.txt`.
"""


def wanted(requirement: Requirement, extras: set[str]) -> bool:
    """Whether ``requirement`` applies when its package is installed with ``extras``."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def installed_closure(project: str = PROJECT, extras: tuple[str, ...] = EXTRAS,
                      ) -> dict[str, str]:
    """Every installed package ``project[extras]`` needs, directly or not: name -> version
    (the project itself left out). A requirement that is not installed is skipped."""
    versions: dict[str, str] = {}
    asked: dict[str, set[str]] = {}
    queue = [(project, set(extras))]
    while queue:
        name, name_extras = queue.pop()
        key = canonicalize_name(name)
        if key in asked and name_extras <= asked[key]:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        asked.setdefault(key, set()).update(name_extras)
        if key != canonicalize_name(project):
            versions[key] = distribution.version
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if wanted(requirement, name_extras):
                queue.append((requirement.name, set(requirement.extras)))
    return dict(sorted(versions.items()))


def public_version(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13.0``: a pin without the local build label, which any build of
    that release satisfies."""
    return version.split("+", 1)[0]


def constraints_text(versions: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={public_version(version)}\n"
                            for name, version in versions.items())


def read_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    """The pins of ``path``: canonical name -> version."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def mismatches(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """One line per pinned package installed at another version."""
    return [f"{name}: installed {installed[name]}, constraints.txt says {version}"
            for name, version in pins.items()
            if name in installed and public_version(installed[name]) != version]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the installed versions with constraints.txt")
    args = parser.parse_args(argv)
    installed = installed_closure()
    if args.check:
        problems = mismatches(read_constraints(), installed)
        print("\n".join(problems) or "installed versions match constraints.txt")
        return 1 if problems else 0
    CONSTRAINTS.write_text(constraints_text(installed), encoding="utf-8")
    print(f"wrote {len(installed)} pins to {CONSTRAINTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
