"""`voc users` (add, list, token) and `voc serve`, the web app."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from voc.cli.common import emit_json, err, fail, open_store, out, settings

__all__ = ["COMMANDS", "users_app"]


users_app = typer.Typer(help="Web app users: add, list, API tokens.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="default: settings web.host (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="default: settings web.port (8765)")] = None,
) -> None:
    """Run the QA reviewer and topic web app (needs the optional 'web' extra; see docs/web.md)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise fail("the web app needs its extra: pip install -e '.[web]'") from None
    from voc.web.server import serve as run_server
    from voc.web.users import Users

    s = settings()
    store = open_store(s)
    if not Users(store.db).list():
        err.print("[yellow]no users yet:[/yellow] add one with `voc users add NAME --role supervisor`")
    store.close()
    out.print(f"voc web app on http://{host or s.web.host}:{port or s.web.port}  (Ctrl-C stops)")
    run_server(s, host, port)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option("--role", "-r", help="reviewer, supervisor or department_owner")],
    department: Annotated[str | None, typer.Option("--department", help="department_owner: the department whose digests they see")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from the first line of stdin")] = False,
) -> None:
    """Add a web app user (the password is asked for, or read with --password-stdin; only its scrypt hash is stored)."""
    from voc.pipeline.adhoc import DepartmentConfigError, load_departments
    from voc.web.users import UserError, Users

    s = settings()
    if department is not None:
        try:
            known = [d.id for d in load_departments(s.routing.departments_file)]
        except DepartmentConfigError as exc:
            raise fail(str(exc)) from None
        if department not in known:
            source = s.routing.departments_file or "the bundled departments file"
            raise fail(f"--department {department!r} is not a department of {source}; "
                       f"expected one of: {', '.join(known)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        user = Users(open_store(s, create=True).db).add(name, role, password, department)
    except UserError as exc:
        raise fail(str(exc)) from None
    out.print(f"added {user.name} ({user.role})")


@users_app.command("list")
def users_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Users, roles and whether they hold an API token."""
    from voc.web.users import Users

    rows = [{"name": u.name, "role": u.role, "department": u.department, "active": u.active, "api_token": u.has_token,
             "created_at": u.created_at.isoformat() if u.created_at else None,
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
            for u in Users(open_store().db).list()]
    if json_out:
        emit_json(rows)
        return
    table = Table("name", "role", "department", "active", "api token", "last login")
    for r in rows:
        table.add_row(r["name"], r["role"], r["department"] or "", "yes" if r["active"] else "no",
                      "yes" if r["api_token"] else "no", r["last_login_at"] or "")
    out.print(table)


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Issue a new API token for NAME (replaces the old one; printed once, only its hash is stored)."""
    from voc.web.users import UserError, Users

    try:
        token = Users(open_store().db).issue_token(name)
    except UserError as exc:
        raise fail(str(exc)) from None
    sys.stdout.write(token + "\n")


COMMANDS = (serve,)  # commands of the root app, registered in voc.cli in this order
