"""Opening the store and applying migrations.

WAL plus a busy timeout lets `lion status` and the dashboard read while `lion run` writes.
Migrations are forward-only SQL files applied in name order, each in its own transaction and
recorded in a ledger, on every open.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lion_cli.resources import resource_dir

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
# A new store's page size. 16 KiB rather than SQLite's 4 KiB: `lion init` of a 52K-row seed file writes
# its rows and builds its indexes about a tenth faster (bench/init_speed.py), and a loop's small commits
# cost a few more KiB each in the WAL. An existing store keeps the page size it was made with.
PAGE_SIZE = 16384
MAX_PARAMS = 900   # host parameters per statement, below the 999 of older SQLite builds
FOREIGN_KEYS_OFF = "-- lion: foreign keys off"  # a migration's first line: it rebuilds a referenced table


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


def available_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or resource_dir("migrations")
    return [Migration(p.stem, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.sql"))]


def connect(path: Path | str, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's pragmas, in autocommit mode; it does not migrate."""
    if readonly:
        # as_uri() percent-encodes: a project folder named 'a#b' or 'x?y' must not end the URI early.
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False, isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                               isolation_level=None)  # autocommit; transactions are explicit
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # takes effect on a new file only (before its first write)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


_connect = connect  # the name other store modules already use


class Store:
    """A connection plus the helpers every repository module uses."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self.conn = conn
        self.path = path
        self._db: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection, for bulk inserts, upserts and introspection.
        Write with it inside `tx()`: its own steps then nest as savepoints in our transaction, which
        keeps IMMEDIATE locking and all-or-nothing writes. Imported on first use (~0.2 s), so
        `lion status` and the dashboard never load it."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn, recursive_triggers=False, execute_plugins=False)
        return self._db

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. IMMEDIATE takes the write lock up front, so two writers queue
        on the busy timeout instead of failing half-way with 'database is locked'."""
        if self.conn.in_transaction:  # nested: join the outer transaction
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same moment of the store (a WAL
        snapshot), and the writer is never blocked by it."""
        if self.conn.in_transaction:  # inside another transaction: that one already pins the moment
            yield self.conn
            return
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_in(self, sql: str, values: Sequence[Any]) -> list[sqlite3.Row]:
        """`sql` with `{marks}` standing for an IN (…) list of `values`, run in chunks that stay
        under SQLite's host-parameter limit; the rows of each chunk in turn."""
        rows: list[sqlite3.Row] = []
        for start in range(0, len(values), MAX_PARAMS):
            chunk = list(values[start:start + MAX_PARAMS])
            rows += self.query(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def event(self, message: str, *, level: str = "info", iteration: int | None = None,
              stage: str | None = None, data_json: str = "{}") -> None:
        self.conn.execute(
            "INSERT INTO events (ts, level, iteration, stage, message, data_json) VALUES (?,?,?,?,?,?)",
            (time.time(), level, iteration, stage, message, data_json),
        )

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and empty it, so that the file alone
        holds everything (before it is moved into place)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def table_sizes(store: Store) -> list[dict[str, Any]]:
    """Every table of the store (SQLite's own left out) with its row and column counts."""
    return [{"name": t.name, "rows": t.count, "columns": len(t.columns)}
            for t in store.db.tables if not t.name.startswith("sqlite_")]


def _ensure_ledger(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name TEXT PRIMARY KEY,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'").fetchone()
    if not exists:
        return []
    return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the pending migrations, each in one transaction; returns the names applied."""
    migrations = available_migrations() if migrations is None else migrations
    _ensure_ledger(conn)
    done = set(applied_migrations(conn))
    applied: list[str] = []
    for m in migrations:
        if m.name in done:
            continue
        with foreign_keys_off(conn, m.sql.startswith(FOREIGN_KEYS_OFF)):
            _migrate_one(conn, m, applied)
    return applied


def _migrate_one(conn: sqlite3.Connection, m: Migration, applied: list[str]) -> None:
    """`m` in one transaction, unless another process applied it first."""
    conn.execute("BEGIN IMMEDIATE")
    # Two processes opening a fresh store at once both see the step as pending; the second one
    # gets the write lock after the first committed, so look again under the lock.
    if conn.execute("SELECT 1 FROM schema_migrations WHERE name=?", (m.name,)).fetchone():
        conn.execute("COMMIT")
        return
    try:
        _apply(conn, m)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    applied.append(m.name)


@contextmanager
def foreign_keys_off(conn: sqlite3.Connection, off: bool) -> Iterator[None]:
    """Foreign keys off (when `off`) around a transaction started inside: a migration that rebuilds a
    table others reference (dropping the old table would otherwise fail), a bulk fill whose references
    are right by construction. SQLite changes the setting only outside a transaction (inside one this
    is a no-op); the connection's setting comes back after, also on error."""
    if not off:
        yield
        return
    before = int(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA foreign_keys = {before}")


def _apply(conn: sqlite3.Connection, m: Migration) -> None:
    # Statements one by one: executescript() would commit our transaction.
    for stmt in _split_sql(m.sql):
        conn.execute(stmt)
    if m.sql.startswith(FOREIGN_KEYS_OFF):  # nothing the rebuild did may leave a reference dangling
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise sqlite3.IntegrityError(f"migration {m.name}: {len(broken)} broken references, "
                                         f"first in table {broken[0][0]}")
    conn.execute("INSERT INTO schema_migrations (name) VALUES (?)", (m.name,))


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement knows about quotes)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if not buf and line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()):
        out.append(buf.strip())
    return out


def open_store(path: Path | str, *, readonly: bool = False, create: bool = True) -> Store:
    """Open (and migrate) a project's store. Read-only opens never migrate or write."""
    p = Path(path)
    if not p.exists() and (readonly or not create):
        raise FileNotFoundError(f"{p}: no lion store here")
    conn = _connect(p, readonly=readonly)
    if not readonly and migrate(conn):
        # A fresh connection after schema changes: on the one that rebuilt a table (0017), SQLite 3.40
        # refuses every later WAL checkpoint once the journal mode has changed ("database table is
        # locked"), which `lion init` does (store/bulk.py).
        conn.close()
        conn = _connect(p)
    return Store(conn, p)
