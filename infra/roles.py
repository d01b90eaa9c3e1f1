"""PostgreSQL roles: an owner that creates the tables, and a service role that may
append to the record but never rewrite it.

`care-episodes init-store --grant-to ROLE`, run as the owner, creates every table
and gives ROLE what the service needs: it reads and appends events and access-log
entries (no UPDATE: writers take no table lock, and the owner's triggers refuse
any update anyway), keeps the episode index and the projection
registry, and creates and drops the read models' own tables. Not being the owner,
it cannot disable or drop the triggers, and only a superuser may set
session_replication_role: so it cannot delete a row of the record.
"""

from __future__ import annotations

from psycopg import sql

from infra.database import Database

# erased_keys and erasures: the record of what erasures did (infra.erasure).
APPEND_ONLY = ("access_log", "access_log_episodes", "erased_keys", "erasures")
KEPT = (
    "episode_index",
    "episode_referrers",
    "projection_generations",
    # bulk export jobs and webhook subscriptions (infra.interop.TABLES)
    "fhir_export_jobs",
    "feed_subscriptions",
    # patients' data keys: made, re-wrapped by a rotation, deleted by an erasure
    "data_keys",
    "crypto_secrets",
)


def grant_service_role(
    db: Database, role: str, events_table: str, snapshots_table: str | None = None
) -> None:
    """Give `role` exactly what the service needs (see the module's docstring);
    snapshots, which only save replaying, it may also replace."""
    if db.dialect.name != "postgres":
        raise ValueError("roles are PostgreSQL's; an SQLite file has no users")
    who = sql.Identifier(role)
    statements = [
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {0}").format(who),
        sql.SQL("GRANT SELECT, INSERT ON {0} TO {1}").format(
            sql.Identifier(events_table), who
        ),
        *(
            sql.SQL("GRANT SELECT, INSERT ON {0} TO {1}").format(sql.Identifier(t), who)
            for t in APPEND_ONLY
        ),
        *(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {0} TO {1}").format(
                sql.Identifier(t), who
            )
            for t in KEPT
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {0}").format(
            who
        ),
    ]
    if snapshots_table is not None:
        statements.append(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {0} TO {1}").format(
                sql.Identifier(snapshots_table), who
            )
        )
    with db.writing() as cur:
        for statement in statements:
            cur.raw.execute(statement)
