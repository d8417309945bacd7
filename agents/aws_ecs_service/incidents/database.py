"""PostgreSQL connections for the functions: through RDS Proxy in AWS, DATABASE_URL locally.

Connections are opened here, never with a library's from_conn_string: those force prepared
statements, which RDS Proxy (and pgbouncer) cannot route. autocommit + dict rows + no
prepared statements is what every store and the LangGraph checkpointer expect.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

CONNECT_TIMEOUT_S = 5
_cached: psycopg.Connection | None = None


def connection_kwargs(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    common: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, "prepare_threshold": None,
                              "connect_timeout": CONNECT_TIMEOUT_S}
    if env.get("DATABASE_URL"):
        return {"conninfo": env["DATABASE_URL"], **common}
    missing = [k for k in ("DB_SECRET_ARN", "DB_PROXY_ENDPOINT", "DB_NAME") if not env.get(k)]
    if missing:
        raise RuntimeError(f"no database configured: set DATABASE_URL, or {', '.join(missing)}")
    from aws_lambda_powertools.utilities.parameters import get_secret

    # Rotation changes the password: a short cache, and connect() retries once with a fresh read.
    secret = json.loads(get_secret(env["DB_SECRET_ARN"], max_age=60))
    return {"host": env["DB_PROXY_ENDPOINT"], "port": int(secret.get("port") or 5432), "dbname": env["DB_NAME"],
            "user": secret["username"], "password": secret["password"], "sslmode": "require", **common}


def connect(env: Mapping[str, str] | None = None) -> psycopg.Connection:
    """A new connection (the caller closes it)."""
    kwargs = connection_kwargs(env)
    try:
        return psycopg.connect(**kwargs)
    except psycopg.OperationalError:
        if "password" not in kwargs:
            raise
        from aws_lambda_powertools.utilities.parameters import get_secret

        get_secret((env or os.environ)["DB_SECRET_ARN"], force_fetch=True)
        return psycopg.connect(**connection_kwargs(env))


def shared_connection() -> psycopg.Connection:
    """One connection per Lambda container, reopened when it broke between invocations. A restart or failover
    of the database closes it without the client knowing: one empty query (a round trip) finds out first."""
    global _cached
    if _cached is not None and not (_cached.closed or _cached.broken):
        try:
            _cached.execute("")
        except psycopg.OperationalError:
            _cached.close()
    if _cached is None or _cached.closed or _cached.broken:
        _cached = connect()
    return _cached
