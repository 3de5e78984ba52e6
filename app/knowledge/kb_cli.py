"""`flask --app app kb ...`: validate the knowledge base and search it from the command line.

The group is plain click (no app context needed): neither command touches the database or the
network. The `reload` command is added to this group elsewhere.
"""

from __future__ import annotations

import json
import sys

import click

from .base import KnowledgeBaseError, load_kb

DEFAULT_PATH = "knowledge_base.json"


def default_kb_path() -> str:
    """KNOWLEDGE_BASE_PATH through the validated settings (the one place env vars are read)."""
    from app.platform.config import Settings

    return Settings().knowledge_base_path or DEFAULT_PATH


kb = click.Group("kb", help="Knowledge base: validate knowledge_base.json, search it.")


@kb.command("validate")
@click.option("--kb", "kb_path", default=None, metavar="PATH",
              help="File to check (default: $KNOWLEDGE_BASE_PATH or knowledge_base.json).")
def validate_cmd(kb_path: str | None) -> None:
    """Check the file; print every problem as `path.to[3].field: reason`."""
    path = kb_path or default_kb_path()
    try:
        base = load_kb(path)
    except KnowledgeBaseError as exc:
        for err in exc.errors:
            click.echo(err)
        sys.exit(1)
    from .warnings import bonus_warnings

    for warning in bonus_warnings(base):  # the file is valid: warnings never fail the check
        click.echo(f"warning: {warning}")
    click.echo(f"OK: {len(base.products)} products, {len(base.faq_entries)} faq, version {base.version}")


@kb.command("search")
@click.option("--kb", "kb_path", default=None, metavar="PATH",
              help="File to search (default: $KNOWLEDGE_BASE_PATH or knowledge_base.json).")
@click.option("-k", "k", default=3, show_default=True, type=click.IntRange(min=0),
              help="How many ids per query.")
def search_cmd(kb_path: str | None, k: int) -> None:
    """Read queries from stdin, one a line; write one JSON list of ids per line, best first."""
    from .search import KnowledgeIndex

    path = kb_path or default_kb_path()
    try:
        index = KnowledgeIndex.build(load_kb(path))
    except KnowledgeBaseError as exc:
        for err in exc.errors:
            click.echo(err, err=True)
        sys.exit(1)
    stdin = sys.stdin
    try:
        stdin.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        pass
    for line in stdin:
        query = line.rstrip("\r\n")
        ids = index.search_ids(query, k) if query.strip() else []
        click.echo(json.dumps(ids))
        sys.stdout.flush()
