"""client objections in their own field (issue 20.11): the client's words, never staff notes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Objections the analysis heard used to be appended to `clients.notes` as «Возражения: a; b»
lines, which the prompts show as the staff's notes (outside the client-data fences). They move
to `clients.objections` (a JSON list), and those lines leave the notes.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PREFIX = "Возражения: "

MOVE = sa.text("""
UPDATE clients SET
  objections = COALESCE((
    SELECT json_agg(btrim(part) ORDER BY l.n, p.k)
    FROM regexp_split_to_table(clients.notes, E'\\n') WITH ORDINALITY AS l(line, n),
         LATERAL regexp_split_to_table(substr(l.line, char_length(:prefix) + 1), '; ')
                 WITH ORDINALITY AS p(part, k)
    WHERE l.line LIKE :prefix || '%' AND btrim(part) <> ''), '[]'::json),
  notes = COALESCE((
    SELECT string_agg(l.line, E'\\n' ORDER BY l.n)
    FROM regexp_split_to_table(clients.notes, E'\\n') WITH ORDINALITY AS l(line, n)
    WHERE l.line NOT LIKE :prefix || '%'), '')
WHERE clients.notes LIKE '%' || :prefix || '%'
""")


def upgrade() -> None:
    op.add_column("clients", sa.Column("objections", sa.JSON(), nullable=False,
                                       server_default=sa.text("'[]'::json")))
    op.get_bind().execute(MOVE, {"prefix": PREFIX})


def downgrade() -> None:
    op.drop_column("clients", "objections")
