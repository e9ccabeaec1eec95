"""Click pieces shared by the ``kb`` CLI and ``kb eval``."""

from __future__ import annotations

import sys

import click

from kb.errors import KBError


class FriendlyGroup(click.Group):
    """Shows :class:`KBError` messages as one plain sentence instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KBError as exc:
            click.echo(f"Fout: {exc}", err=True)
            sys.exit(2)
