"""The schema belongs to Alembic: a fresh database upgrades to head on SQLite and PostgreSQL,
``monitor init`` is idempotent, and the migrations travel inside the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from monitor.db import HEAD, Database
from monitor.models import Base
from tests.conftest import ROOT, run_cli


def fresh_url(test_database_url: str, tmp_path) -> str:
    """An empty database: a new SQLite file, or an empty schema in the session's PostgreSQL database."""
    if test_database_url.startswith("sqlite-template:"):
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = create_engine(test_database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS fresh CASCADE"))
        conn.execute(text("CREATE SCHEMA fresh"))
    engine.dispose()
    return test_database_url + "?options=-csearch_path%3Dfresh"


def test_fresh_database_upgrades_to_head_with_every_table(test_database_url, tmp_path):
    db = Database(fresh_url(test_database_url, tmp_path))
    try:
        assert db.current_revision() is None
        before, after = db.upgrade()
        head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
        assert before is None and after == head == HEAD  # HEAD: a new migration bumps it
        tables = set(inspect(db.engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        assert db.upgrade() == (after, after)  # idempotent
    finally:
        db.dispose()


def test_upgrading_a_0004_database_keeps_every_row_and_takes_long_watermarks(test_database_url, tmp_path):
    """0005 widens ``sources.watermark`` (a poll owing pages keeps a next-page URL there, longer than
    the 200 characters 0004 allowed: PostgreSQL refused to store the poll). On SQLite it rebuilds
    ``sources`` (batch mode: copy, drop, rename), which must not drop what refers to it. Before:
    with foreign keys on, dropping the old table cascaded, and ``monitor init`` of a 0004 install
    deleted every item, version, change and alert delivery."""
    from alembic import command

    db = Database(fresh_url(test_database_url, tmp_path))
    try:
        command.upgrade(db.alembic_config(), "0004")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO sources (id, kind, enabled, created_at, consecutive_failures, polls_total, "
                              "polls_unchanged, items_seen, baseline_done, incident_open, watermark) VALUES ('ca9', "
                              "'rss', true, CURRENT_TIMESTAMP, 0, 0, 0, 0, true, false, '2026-02-01')"))
            conn.execute(text("INSERT INTO items (id, key, source_id, kind, title, data, first_seen, last_seen, "
                              "last_changed, content_hash, version) VALUES (1, 'rss:ca9:a1', 'ca9', 'opinion', "
                              "'Doe v. ICE', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'h', 1)"))
            conn.execute(text("INSERT INTO item_versions (id, item_id, version, content_hash, snapshot, created_at) "
                              "VALUES (1, 1, 1, 'h', '{}', CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO changes (id, item_id, version_id, type, detected_at) "
                              "VALUES (1, 1, 1, 'new', CURRENT_TIMESTAMP)"))
        assert db.upgrade() == ("0004", HEAD)
        owed = '{"next": "https://www.federalregister.gov/api/v1/documents.json?' + "x" * 900 + '"}'
        with db.engine.begin() as conn:
            counts = [conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                      for table in ("sources", "items", "item_versions", "changes")]
            assert counts == [1, 1, 1, 1]
            assert conn.execute(text("SELECT watermark FROM sources")).scalar_one() == "2026-02-01"
            conn.execute(text("UPDATE sources SET watermark = :w"), {"w": owed})
            assert conn.execute(text("SELECT watermark FROM sources")).scalar_one() == owed
    finally:
        db.dispose()


def test_upgrading_a_0005_database_keys_courtlistener_feed_entries_as_polls_now_do(test_database_url, tmp_path):
    """0006: the rss kind keys an entry of CourtListener's feeds by its link alone, so the stored
    entries are re-keyed; left under their old keys, the next poll would find every one of them
    new and alert it again. Of one opinion two feeds stored, the first item takes the key."""
    from alembic import command

    link = "https://www.courtlistener.com/opinion/10734518/jane-doe-v-us-immigration-customs-enforcement/"
    db = Database(fresh_url(test_database_url, tmp_path))
    try:
        command.upgrade(db.alembic_config(), "0005")
        with db.engine.begin() as conn:
            for source in ("cl-bivens", "cl-qi", "ca9"):
                conn.execute(text("INSERT INTO sources (id, kind, enabled, created_at, consecutive_failures, "
                                  "polls_total, polls_unchanged, items_seen, baseline_done, incident_open) VALUES "
                                  "(:s, 'rss', true, CURRENT_TIMESTAMP, 0, 0, 0, 0, true, false)"), {"s": source})
            for item_id, source, entry in ((1, "cl-bivens", link), (2, "cl-qi", link), (3, "ca9", "a1")):
                conn.execute(text("INSERT INTO items (id, key, source_id, kind, title, data, first_seen, last_seen, "
                                  "last_changed, content_hash, version) VALUES (:id, :key, :source, 'opinion', 'Doe', "
                                  "'{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'h', 1)"),
                             {"id": item_id, "key": f"rss:{source}:{entry}", "source": source})
        assert db.upgrade() == ("0005", HEAD)
        with db.engine.begin() as conn:
            keys = dict(conn.execute(text("SELECT id, key FROM items")).all())
        assert keys == {1: f"rss:courtlistener:{link}", 2: f"rss:cl-qi:{link}", 3: "rss:ca9:a1"}
        command.downgrade(db.alembic_config(), "0005")
        with db.engine.begin() as conn:
            assert set(conn.execute(text("SELECT key FROM items")).scalars()) == {
                f"rss:cl-bivens:{link}", f"rss:cl-qi:{link}", "rss:ca9:a1"}
    finally:
        db.dispose()


def test_a_migration_that_fails_midway_leaves_the_database_as_it_was(cli_env, tmp_path):
    """``monitor init`` stopped part-way (a full disk; here a table of the same name in the way)
    must leave no half schema: SQLite's driver runs DDL outside any transaction unless told. Before:
    the tables made before the failure stayed, without a revision, and every later command failed
    with ``table budget_spend already exists`` until the file was deleted by hand."""
    import sqlite3

    path = tmp_path / "half.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE delivery_attempts (note TEXT)")  # the last table 0001 makes
    result = run_cli(["init", "--db", f"sqlite:///{path}"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: the database sqlite:///{path} refused the change: table delivery_attempts already exists"]
    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        conn.execute("DROP TABLE delivery_attempts")  # the operator clears the way
    assert tables == ["delivery_attempts"]
    again = run_cli(["init", "--db", f"sqlite:///{path}"], cli_env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_a_database_a_newer_version_upgraded_is_named_not_an_internal_error(cli_env, tmp_path):
    """A deployment rolled back after a newer version migrated its database: every command says
    so in one line and changes nothing (before: ``internal error: CommandError: Can't locate
    revision identified by '0006'``, which reads as a bug of this version)."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'newer.db'}"
    assert run_cli(["init", "--db", url], cli_env, cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    shutil.copy(ROOT / "tests/config/good/minimal.yaml", tmp_path / "sources.yaml")
    for args in (["init"], ["status"], ["run", "--once"]):
        result = run_cli([*args, "--db", url], cli_env, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip().splitlines() == [(
            f"error: the database {url} has schema revision 0099, which this version of Remedy Monitor does not know "
            f"(its newest is {HEAD}): a newer version upgraded it; run that version, or point at another database")]
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]


def test_init_command_is_idempotent(cli_env):
    first = run_cli(["init"], cli_env)
    assert first.returncode == 0, first.stderr
    second = run_cli(["init"], cli_env)
    assert second.returncode == 0 and "up to date" in second.stdout


def test_wheel_carries_migrations_and_runs_from_any_directory(tmp_path):
    source = tmp_path / "source"  # a clean copy: no stale build/ directory can leak into the wheel
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info",
                                                                "__pycache__", "*.db*", "bench"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("remedy_monitor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "migrations/env.py" in names and "migrations/script.py.mako" in names
    assert any(n.startswith("migrations/versions/0001") for n in names)
    assert "alerts/slack.py" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "MONITOR_DATABASE_URL": "sqlite:///here.db"}
    result = subprocess.run([sys.executable, "-m", "monitor", "init"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (elsewhere / "here.db").exists()


def test_models_and_migrations_agree(db):
    """A model change without its migration is caught here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from monitor.db import include_name

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata)
    assert diff == []
