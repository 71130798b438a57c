"""hedui's verification core written by hand in DuckDB: the peer of `hedui-benches compare`.

Usage: duckdb_peer.py STAGED_DIR PARAMS_JSON OUT_DIR [--threads N] [--timings]

Reads every staged source as a view over its Parquet file, runs verify.duckdb.sql with the
batch's parameters filled in, and writes households.parquet, findings.parquet and
outcomes.parquet to OUT_DIR. With --timings, each statement's wall and CPU milliseconds go to
standard error (to set beside hedui's stages: benches/README.md).
"""

import argparse
import json
import os
import resource
import sys
import time

import duckdb

SOURCES = [
    "applications", "death", "cremation", "incarceration", "tax", "public_payroll",
    "social_insurance", "provident_fund", "pension", "unemployment_benefit", "medical_expense",
    "bank_deposit", "securities", "commercial_insurance", "internet_finance", "real_estate",
    "vehicle", "vessel", "business", "assistance", "marriage", "hukou",
]

# The sources whose records feed the income and asset sums.
SUM_SOURCES = [
    "tax", "public_payroll", "social_insurance", "provident_fund", "pension",
    "unemployment_benefit", "medical_expense", "bank_deposit", "securities",
    "commercial_insurance", "internet_finance",
]


def subject(source):
    """The subject field of a source (its key column is `<subject>_key`)."""
    return "owner" if source in ("vehicle", "vessel", "real_estate") else "person"


def probable_records(con, staged, linkage, packed):
    """hedui's probable records, done by hand: the rows ingestion staged for a subject's ID
    that does not read (`<source>.unread.parquet`) that the linkage linked to a member, with
    the member's key, unless a row of that member was read with every other value the same
    (a copy), or an earlier such row was (the first in file and line order is kept). Each
    source with some becomes the union of its staged rows and those (`<source>_certain` stays
    the staged rows alone). Returns the sources with probable records."""
    con.execute(
        f"CREATE TEMP TABLE linked_rows AS SELECT source, file, line, {packed} AS k FROM ("
        f"SELECT source, file, line, person_id AS id FROM read_parquet('{linkage}') "
        f"WHERE status = 'linked')"
    )
    con.execute("CREATE TEMP TABLE unread_rows (source VARCHAR, file VARCHAR, line BIGINT)")
    with_probable = []
    for s in SOURCES:
        unread = os.path.join(staged, s + ".unread.parquet")
        if s == "applications" or not os.path.exists(unread):
            continue
        key, raw = subject(s) + "_key", subject(s) + "_id_raw"
        con.execute(
            f"INSERT INTO unread_rows SELECT '{s}', _file, _line FROM read_parquet('{unread}')"
        )
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{unread}')").fetchall()]
        # (`_copy_of`: what ingestion found for hedui; the peer tells copies apart itself.)
        content = [c for c in cols if c not in (raw, "_file", "_line", "_copy_of")]
        drop = " EXCLUDE (_copy_of)" if "_copy_of" in cols else ""
        same = " AND ".join(f't."{c}" IS NOT DISTINCT FROM c."{c}"' for c in content)
        by = ", ".join(f'"{c}"' for c in content)
        con.execute(
            f"CREATE TEMP TABLE {s}_probable AS "
            f"WITH c AS (SELECT u.*{drop} REPLACE (l.k AS {key}) FROM read_parquet('{unread}') u "
            f"JOIN linked_rows l ON l.source = '{s}' AND l.file = u._file AND l.line = u._line) "
            f"SELECT * FROM c WHERE NOT EXISTS (SELECT 1 FROM {s} t WHERE {same}) "
            f"QUALIFY row_number() OVER (PARTITION BY {by} ORDER BY _file, _line) = 1"
        )
        if con.execute(f"SELECT count(*) FROM {s}_probable").fetchone()[0] > 0:
            path = os.path.join(staged, s + ".parquet")
            con.execute(
                f"CREATE OR REPLACE VIEW {s} AS SELECT * FROM read_parquet('{path}') "
                f"UNION ALL BY NAME SELECT * FROM {s}_probable"
            )
            with_probable.append(s)
    return with_probable


def sql_list(values):
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


def fill(sql, p, out):
    lines = ", ".join(
        f"({l['region']}, '{l['programme']}', {l['multiple_bp']}, {l['standard_fen']}, "
        f"{'NULL' if l['rural_fen'] is None else l['rural_fen']})"
        for l in p["lines"]
    )
    values = {
        "as_of": p["as_of"], "ws": p["ws"], "we": p["we"], "months": p["months"],
        "asset_months": p["asset_months"], "count_tax_wage": p["count_tax_wage"],
        "other_tax_types": sql_list(p["other_tax_types"]),
        "pension_schemes": sql_list(p["pension_schemes"]),
        "count_unemployment": p["count_unemployment"], "deduct_medical": p["deduct_medical"],
        "current_month": p["current_month"], "max_residential": p["max_residential"],
        "forbidden_uses": sql_list(p["forbidden_uses"]),
        # `x NOT IN (NULL)` is never true: an empty list of exempt types exempts nothing.
        "exempt_vehicles": sql_list(p["exempt_vehicles"]) if p["exempt_vehicles"] else "''",
        "sole_trader_max_staff": p["sole_trader_max_staff"],
        "minor_born_after": p["minor_born_after"], "lines": lines,
        "flag_rules": sql_list(p["flag_rules"]),
        "any_missing": bool(p["unverified_sources"]), "out": out,
        "read_sources": sql_list(p["read_sources"]),
    }
    for k, v in values.items():
        sql = sql.replace("{" + k + "}", str(v).lower() if isinstance(v, bool) else str(v))
    return sql


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("staged")
    ap.add_argument("params")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timings", action="store_true")
    a = ap.parse_args()
    with open(a.params) as f:
        params = json.load(f)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify.duckdb.sql")) as f:
        sql = fill(f.read(), params, a.out)
    con = duckdb.connect()
    con.execute(f"SET threads = {a.threads}")
    con.execute("SET preserve_insertion_order = false")
    for s in SOURCES:
        path = os.path.join(a.staged, s + ".parquet")
        if not os.path.exists(path):
            sys.exit(f"duckdb peer: no staged {s} at {path}")
        con.execute(f"CREATE VIEW {s} AS SELECT * FROM read_parquet('{path}')")
        con.execute(f"CREATE VIEW {s}_certain AS SELECT * FROM read_parquet('{path}')")
    # Every source's quarantine, one view (the records that could not be read).
    quarantine = os.path.join(os.path.dirname(os.path.abspath(a.staged)), "quarantine", "*.parquet")
    con.execute(
        f"CREATE VIEW quarantine AS SELECT * FROM read_parquet('{quarantine}', union_by_name = true)"
    )
    # The records whose subject's ID does not read that hedui's linkage stage attributed to a
    # member (linked, or ambiguous: each candidate), from the batch's linkage.parquet: the
    # peers take the linkage's decisions as input rather than re-deriving them (its cost is
    # hedui's own stage, measured apart; benches/README.md).
    linkage = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.staged))), "linkage.parquet")
    packed = ("CAST(substr(id, 1, 17) AS BIGINT) * 11 + CASE substr(id, 18, 1) WHEN 'X' THEN 10 "
              "ELSE CAST(substr(id, 18, 1) AS BIGINT) END")
    # A linked record whose row ingestion staged was read (a probable record, or a copy of a
    # record read): it is no unreadable record.
    probable = []
    if os.path.exists(linkage):
        probable = probable_records(con, a.staged, linkage, packed)
        con.execute(
            f"CREATE VIEW linked AS SELECT {packed} AS person_key FROM ("
            f"SELECT person_id AS id FROM read_parquet('{linkage}') l WHERE status = 'linked' "
            f"AND NOT EXISTS (SELECT 1 FROM unread_rows u WHERE u.source = l.source "
            f"AND u.file = l.file AND u.line = l.line) "
            f"UNION ALL SELECT unnest(string_split(candidate_ids, ';')) AS id "
            f"FROM read_parquet('{linkage}') WHERE status = 'ambiguous')"
        )
    else:
        con.execute("CREATE VIEW linked AS SELECT CAST(NULL AS BIGINT) AS person_key WHERE false")
    # The members with probable records in a source of the sums: their households' sums are
    # also taken without them (verify.duckdb.sql: income_certain, assets_certain).
    sums = [s for s in probable if s in SUM_SOURCES]
    con.execute(
        "CREATE TEMP TABLE probable_persons AS "
        + " UNION ".join([f"SELECT {subject(s)}_key AS person_key FROM {s}_probable" for s in sums]
                         or ["SELECT CAST(NULL AS BIGINT) AS person_key WHERE false"])
    )
    os.makedirs(a.out, exist_ok=True)
    # Comment lines out first (they may hold semicolons), then one statement at a time.
    sql = "\n".join(l for l in sql.splitlines() if not l.lstrip().startswith("--"))
    for statement in sql.split(";"):
        if statement.strip():
            wall, cpu = time.monotonic(), cpu_seconds()
            con.execute(statement)
            if a.timings:
                head = " ".join(statement.split())[:60]
                print(f"{head:60s} ms={1000 * (time.monotonic() - wall):.0f} "
                      f"cpu_ms={1000 * (cpu_seconds() - cpu):.0f}", file=sys.stderr)


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    main()
