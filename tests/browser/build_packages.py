#!/usr/bin/python3
"""Builds small flit_core packages offline for the browser tests, the way tests/e2e/conftest.py's
build_package does: a generated flit_core project built with `python3 -m build --no-isolation`.

Reads a JSON list on stdin: [{"name": ..., "version": ..., "readme": "<Markdown>" (optional),
"sdist": false (optional)}, ...], and writes a JSON list on stdout with, for each package in
the same order, the list of built files (absolute paths). Usage:

    /usr/bin/python3 build_packages.py WORKDIR < specs.json

flit_core reads `readme = "README.md"` and sets Description-Content-Type: text/markdown.
"""

import json
import pathlib
import subprocess
import sys
import time

PYPROJECT = """\
[build-system]
requires = ["flit_core >=3.2,<4"]
build-backend = "flit_core.buildapi"

[project]
name = "{name}"
version = "{version}"
description = "Browser test package {name}"
readme = "README.md"
dependencies = []

[tool.flit.module]
name = "{module}"
"""


def build(workdir, spec):
    name, version = spec["name"], spec["version"]
    module = name.lower().replace("-", "_").replace(".", "_")
    src = workdir / ("src-%s-%s-%d" % (module, version, time.monotonic_ns()))
    (src / module).mkdir(parents=True)
    (src / module / "__init__.py").write_text(
        '"""%s: a browser test package."""\n__version__ = "%s"\n' % (name, version))
    (src / "pyproject.toml").write_text(
        PYPROJECT.format(name=name, version=version, module=module))
    readme = spec.get("readme") or "# %s\n\nA package for pydepot's browser tests.\n" % name
    (src / "README.md").write_text(readme)
    out = src / "dist"
    kinds = ["--wheel"] + (["--sdist"] if spec.get("sdist") else [])
    res = subprocess.run(
        ["/usr/bin/python3", "-m", "build", "--no-isolation", *kinds, "--outdir", str(out),
         str(src)],
        capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit("building %s %s failed" % (name, version))
    return [str(p) for p in sorted(out.iterdir())]


def main():
    workdir = pathlib.Path(sys.argv[1]).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    specs = json.load(sys.stdin)
    json.dump([build(workdir, spec) for spec in specs], sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
