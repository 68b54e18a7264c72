"""Every table the backend ETL reads by watermark has an index in the watermark's order, so an hourly
run reads what changed, not the whole table (its cost would grow with the marketplace)."""

from __future__ import annotations

import psycopg

from shared.etl.backend import TABLES

_INDEXED_PREFIXES = """
SELECT c.relname,
       array_agg(a.attname ORDER BY k.ord) FILTER (WHERE k.ord <= 2) AS leading
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s::regclass
GROUP BY c.relname
"""


def test_each_watermarked_table_has_an_index_on_updated_at_then_its_key(db: psycopg.Connection) -> None:
    # Given the migrated database
    for spec in TABLES:
        # When the indexes of the marketplace table are listed by their two leading columns
        leading = {tuple(row[1]) for row in db.execute(_INDEXED_PREFIXES, (f"marketplace.{spec.name}",))}
        # Then one leads with (updated_at, key): the order and the bound of the watermark read
        assert ("updated_at", spec.key) in leading, spec.name


def test_the_watermark_read_uses_that_index_when_scans_cost_more(db: psycopg.Connection) -> None:
    # Given a session whose planner avoids whole-table scans (as on a large table)
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")
        db.execute("SET LOCAL enable_bitmapscan = off")
        for spec in TABLES:
            # When the hourly read of the table from a watermark is planned
            plan = "\n".join(
                row[0]
                for row in db.execute(
                    f"EXPLAIN SELECT * FROM marketplace.{spec.name} AS src"
                    f" WHERE (src.updated_at, src.{spec.key}) > (now(), %s)"
                    f" ORDER BY src.updated_at, src.{spec.key}",
                    ("0" if spec.key != "address" else "0x0",),
                )
            )
            # Then it walks the watermark index: no sort, no scan of the whole table
            assert f"{spec.name}_updated_idx" in plan and "Sort" not in plan, (spec.name, plan)
