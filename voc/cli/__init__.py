"""The ``voc`` command line: thin callers of voc.pipeline and the stage packages, one module per command group.

Exit codes: 0 success; 1 a run or stage failed; 2 bad usage, configuration or input;
3 finished, but some items failed (their reasons are in ``voc status``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from voc.cli import customers, findings, models, qa, runs, tools, topics, users
from voc.cli.common import err, state

__all__ = ["app", "main"]

app = typer.Typer(help="voc: voice-of-customer analytics for Chinese customer service.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@app.callback()
def _main(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="settings file (default: ./voc.yaml or $VOC_CONFIG)")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="more log output (-vv for debug)")] = 0,
) -> None:
    state.config = config
    state.verbose = verbose
    from rich.logging import RichHandler

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(name)s: %(message)s", handlers=[RichHandler(console=err, show_path=False)], force=True)
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba installs its own stderr handler
    for noisy in ("alembic", "jieba", "faster_whisper", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


# `voc --help` lists commands, then groups, each in the order registered here.
for command in (*runs.COMMANDS, *tools.COMMANDS, *topics.COMMANDS, *customers.COMMANDS, *users.COMMANDS):
    app.command()(command)
for group, name in ((models.config_app, "config"), (models.models_app, "models"), (users.users_app, "users"),
                    (customers.customers_app, "customers"), (findings.findings_app, "findings"),
                    (topics.topics_app, "topics"), (qa.qa_app, "qa")):
    app.add_typer(group, name=name)


def main() -> None:
    app()
