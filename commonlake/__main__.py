"""``python -m commonlake`` runs the CLI."""

from commonlake.cli import app

app()
