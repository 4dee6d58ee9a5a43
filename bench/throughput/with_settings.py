"""Run ``run.py`` (or another benchmark script of a voc tree) with settings added to the environment it builds its
settings from: every ``XBENCH_<NAME>=value`` in this process's environment becomes ``<NAME>=value`` there, e.g.::

    XBENCH_VOC_ROUTING__EMBEDDER=none OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python \\
        bench/throughput/with_settings.py bench/throughput/run.py --records 30000 --nights 30 ...

The script's own tree is imported (so a copy of an older tree measures that tree).
"""

from __future__ import annotations

import os
import runpy
import sys


def main() -> None:
    script = os.path.abspath(sys.argv[1])
    repo = os.path.dirname(os.path.dirname(os.path.dirname(script)))
    sys.path.insert(0, repo)
    import voc.config as config

    if not config.__file__.startswith(repo):
        raise SystemExit(f"voc imported from {config.__file__}, not from {repo}")
    extra = {k[len("XBENCH_"):]: v for k, v in os.environ.items() if k.startswith("XBENCH_")}
    load = config.load_settings

    def load_settings(*args, environ=None, **kw):
        return load(*args, environ=None if environ is None else {**environ, **extra}, **kw)

    config.load_settings = load_settings
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
