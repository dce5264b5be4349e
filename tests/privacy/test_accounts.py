"""Dashboard accounts: argon2 hashes, no email or password in clear, validation, login, rate limit,
audit and its retention, two processes writing at once, and `mira users` through CliRunner."""
from __future__ import annotations

import hashlib
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from pipelines.accounts import users as accounts
from pipelines.cli import users as users_cli

EMAIL = "Ann.Example@Example.com"
PASSWORD = "correct horse battery"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def home(mira_home, monkeypatch):
    """A temp MIRA_HOME with a master key, and argon2 at minimum cost (tests hash dozens of times;
    the production parameters are checked by test_hash_is_argon2id_with_default_parameters)."""
    monkeypatch.setenv("MIRA_MASTER_KEY", "k" * 64)
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(accounts, "_dummy_hash", None)
    return mira_home


class SpyHasher:
    """Counts verifications, to prove a locked-out attempt never reaches the password check."""

    def __init__(self, inner: PasswordHasher):
        self.inner, self.verified = inner, 0

    def verify(self, h, pw):
        self.verified += 1
        return self.inner.verify(h, pw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def db_bytes(home) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.glob("accounts.db*")))


def rows(sql: str, *params) -> list[tuple]:
    with accounts.connect() as con:
        return con.execute(sql, params).fetchall()


def fail(email: str, client: str = "local", now: datetime = T0, password: str = "wrong password!!") -> None:
    with pytest.raises(accounts.LoginFailed) as exc:
        accounts.authenticate(email, password, client, now=now)
    assert not isinstance(exc.value, accounts.LoginLocked), str(exc.value)


# --- storage ---------------------------------------------------------------------------------------

def test_hash_is_argon2id_with_default_parameters_and_nothing_personal_is_in_clear(home, monkeypatch, caplog, capsys):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher())
    caplog.set_level(logging.DEBUG)
    account_id = accounts.add_user(EMAIL, "manager", "acme", password=PASSWORD)
    (stored,) = rows("SELECT password_hash FROM accounts WHERE id = ?", account_id)
    assert stored[0].startswith("$argon2id$")
    assert accounts.authenticate(EMAIL, PASSWORD).id == account_id

    raw = db_bytes(home).lower()
    for secret in (EMAIL, PASSWORD, "ann.example", "example.com"):
        assert secret.lower().encode() not in raw, secret
        assert secret.lower().encode("utf-16-le") not in raw, secret
    # The lookup is keyed: not a plain hash anyone could recompute from a guessed email.
    (lookup,) = rows("SELECT email_lookup FROM accounts")
    assert lookup[0] != hashlib.sha256(EMAIL.strip().casefold().encode()).hexdigest()
    assert lookup[0] == accounts.email_lookup("  ann.example@EXAMPLE.com ")

    out = capsys.readouterr()
    for text in (caplog.text, out.out, out.err):
        assert PASSWORD not in text and EMAIL.lower() not in text.lower()
    assert (home / "accounts.db").stat().st_mode & 0o077 == 0


def test_email_is_encrypted_and_listed_back(home):
    accounts.add_user(EMAIL, "manager", "acme", password=PASSWORD, now=T0)
    accounts.add_user("ops@example.org", "ops", password=PASSWORD)
    accounts.disable_user("OPS@example.org")
    listed = accounts.list_users()
    assert [(u.email, u.role, u.tenant, u.status) for u in listed] == [
        (EMAIL, "manager", "acme", "active"), ("ops@example.org", "ops", None, "disabled")]
    assert listed[0].created == T0
    (enc,) = rows("SELECT email_enc FROM accounts WHERE id = ?", listed[0].id)
    assert len(enc[0]) == 12 + len(EMAIL) + 16          # nonce + ciphertext + GCM tag


def test_another_master_key_cannot_read_the_emails(home, monkeypatch):
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    monkeypatch.setenv("MIRA_MASTER_KEY", "z" * 64)
    with pytest.raises(accounts.AccountError, match="cannot be decrypted"):
        accounts.list_users()
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(EMAIL, PASSWORD)


# --- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("email, role, tenant, password, message", [
    (EMAIL, "admin", None, PASSWORD, "unknown role 'admin'; choose one of manager, analyst, ops, privacy_officer"),
    (EMAIL, "manager", None, PASSWORD, "the manager role needs a tenant"),
    (EMAIL, "manager", "../etc", PASSWORD, "'../etc' is not a valid tenant id"),
    (EMAIL, "analyst", "acme", PASSWORD, "the analyst role has no tenant"),
    (EMAIL, "privacy_officer", "acme", PASSWORD, "the privacy_officer role has no tenant"),
    ("not-an-email", "ops", None, PASSWORD, "not a valid email address"),
    (EMAIL, "ops", None, "elevenchars", "password too short: use at least 12 characters"),
    (EMAIL, "ops", None, " ann.example@example.COM", "password must not be the email address"),
])
def test_invalid_accounts_are_rejected_with_a_clear_message(home, email, role, tenant, password, message):
    with pytest.raises(accounts.AccountError) as exc:
        accounts.add_user(email, role, tenant, password=password)
    assert str(exc.value).startswith(message)
    assert rows("SELECT count(*) FROM accounts") == [(0,)]


def test_duplicate_email_is_rejected_whatever_its_case_or_spaces(home):
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    with pytest.raises(accounts.AccountError, match="^an account with this email already exists$"):
        accounts.add_user(f"  {EMAIL.upper()} ", "ops", password="another password 1")
    assert rows("SELECT count(*) FROM accounts") == [(1,)]


# --- login ---------------------------------------------------------------------------------------------

def test_login_success_and_a_generic_failure(home):
    account_id = accounts.add_user(EMAIL, "manager", "acme", password=PASSWORD)
    assert accounts.authenticate(" ann.example@example.com", PASSWORD) == accounts.Account(
        account_id, EMAIL, "manager", "acme")
    with pytest.raises(accounts.LoginFailed) as wrong_password:
        accounts.authenticate(EMAIL, PASSWORD + "x")
    with pytest.raises(accounts.LoginFailed) as no_such_email:
        accounts.authenticate("nobody@example.com", PASSWORD)
    assert str(wrong_password.value) == str(no_such_email.value) == "invalid email or password"


def test_a_disabled_account_cannot_log_in(home):
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    accounts.disable_user(EMAIL)
    with pytest.raises(accounts.LoginFailed, match="^invalid email or password$"):
        accounts.authenticate(EMAIL, PASSWORD)
    with pytest.raises(accounts.AccountError, match="already disabled"):
        accounts.disable_user(EMAIL)
    with pytest.raises(accounts.AccountError, match="no account with this email"):
        accounts.disable_user("nobody@example.com")


def test_an_outdated_hash_is_upgraded_on_login(home, monkeypatch):
    account_id = accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    (old,) = rows("SELECT password_hash FROM accounts")
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    accounts.authenticate(EMAIL, PASSWORD)
    (new,) = rows("SELECT password_hash FROM accounts")
    assert new != old and "m=2048,t=2" in new[0]
    assert rows("SELECT account_id FROM auth_events WHERE event = 'password_rehashed'") == [(account_id,)]
    assert accounts.authenticate(EMAIL, PASSWORD).id == account_id


# --- rate limiting --------------------------------------------------------------------------------------

def test_five_failures_lock_the_email_for_fifteen_minutes_without_checking_the_password(home, monkeypatch):
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    spy = SpyHasher(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", spy)
    for i in range(5):
        fail(EMAIL, client=f"10.0.0.{i}", now=T0 + timedelta(minutes=i))     # lock starts at T0+4min
    assert spy.verified == 5

    with pytest.raises(accounts.LoginLocked) as exc:
        accounts.authenticate(EMAIL, PASSWORD, "10.0.0.9", now=T0 + timedelta(minutes=5))
    assert str(exc.value) == "too many failed attempts, try again in 14 minutes"
    assert spy.verified == 5                                                   # the right password was not even looked at
    with pytest.raises(accounts.LoginLocked, match="try again in 1 minute$"):
        accounts.authenticate(EMAIL, PASSWORD, now=T0 + timedelta(minutes=18, seconds=30))

    assert accounts.authenticate(EMAIL, PASSWORD, now=T0 + timedelta(minutes=19)).email == EMAIL   # expired
    fail(EMAIL, now=T0 + timedelta(minutes=20))                                                       # counting anew


def test_unknown_emails_lock_the_same_way(home):
    for i in range(5):
        fail("nobody@example.com", client=f"c{i}", now=T0)
    with pytest.raises(accounts.LoginLocked, match="^too many failed attempts, try again in 15 minutes$"):
        accounts.authenticate("nobody@example.com", PASSWORD, now=T0)


def test_five_failures_from_one_client_lock_that_client_only(home):
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    for i in range(5):
        fail(f"guess{i}@example.com", client="203.0.113.7", now=T0 + timedelta(seconds=i))
    with pytest.raises(accounts.LoginLocked):
        accounts.authenticate(EMAIL, PASSWORD, "203.0.113.7", now=T0 + timedelta(minutes=1))
    assert accounts.authenticate(EMAIL, PASSWORD, "198.51.100.1", now=T0 + timedelta(minutes=1)).email == EMAIL


def test_failures_outside_the_window_or_before_a_success_do_not_count(home):
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    for i in range(4):
        fail(EMAIL, client=f"a{i}", now=T0 + timedelta(minutes=i))
    accounts.authenticate(EMAIL, PASSWORD, "a9", now=T0 + timedelta(minutes=4))       # resets the email count
    for i in range(4):
        fail(EMAIL, client=f"b{i}", now=T0 + timedelta(minutes=5 + i))                 # 8 in the window, 4 since
    accounts.authenticate(EMAIL, PASSWORD, "a9", now=T0 + timedelta(minutes=9))
    for i in range(4):
        fail(EMAIL, client=f"c{i}", now=T0 + timedelta(minutes=20 + i))
    fail(EMAIL, client="d", now=T0 + timedelta(minutes=40))                            # the 4 before are gone
    assert accounts.authenticate(EMAIL, PASSWORD, "e", now=T0 + timedelta(minutes=41)).email == EMAIL


# --- audit -------------------------------------------------------------------------------------------------

def test_audit_rows_have_no_email_or_password_and_old_ones_are_purged(home):
    account_id = accounts.add_user(EMAIL, "analyst", password=PASSWORD, now=T0 - timedelta(days=120))
    accounts.authenticate(EMAIL, PASSWORD, now=T0 - timedelta(days=100))
    for i in range(5):
        fail(EMAIL, client="x", now=T0 - timedelta(days=10) + timedelta(seconds=i))
    with pytest.raises(accounts.LoginLocked):
        accounts.authenticate(EMAIL, PASSWORD, client="x", now=T0 - timedelta(days=10, seconds=-10))
    accounts.disable_user(EMAIL, now=T0)

    events = rows("SELECT at, event, account_id, email_lookup, client, detail FROM auth_events ORDER BY id")
    assert [e[1] for e in events] == (["user_added", "login_success"] + ["login_failure"] * 5
                                      + ["lockout", "lockout", "login_refused", "user_disabled"])
    assert {e[2] for e in events if e[1] != "login_refused"} == {account_id}
    assert {e[3] for e in events if e[3]} == {accounts.email_lookup(EMAIL)}
    text = repr(events).lower()
    for secret in (EMAIL.lower(), "ann.example", PASSWORD, "wrong password"):
        assert secret not in text

    assert accounts.purge_auth_events(now=T0) == 2                      # the add (120 days) and the login (100 days)
    assert len(rows("SELECT * FROM auth_events")) == len(events) - 2
    assert accounts.purge_auth_events(older_than_days=5, now=T0) == len(events) - 3
    assert rows("SELECT event FROM auth_events") == [("user_disabled",)]


def test_purge_without_an_accounts_file_is_a_no_op(home):
    assert accounts.purge_auth_events(now=T0) == 0
    assert not (home / "accounts.db").exists()


# --- concurrency ---------------------------------------------------------------------------------------

def test_a_writer_waits_for_another_writer_instead_of_failing(home):
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    held, released = threading.Event(), threading.Event()

    def slow_writer():
        with accounts.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO auth_events (at, event) VALUES ('2026-01-01T00:00:00.000000Z', 'test')")
            held.set()
            time.sleep(0.5)
            con.execute("COMMIT")
        released.set()

    t = threading.Thread(target=slow_writer)
    t.start()
    held.wait(5)
    accounts.add_user("second@example.com", "ops", password=PASSWORD)        # blocks until the commit, then succeeds
    assert accounts.authenticate(EMAIL, PASSWORD).email == EMAIL             # reads while nobody writes
    t.join(5)
    assert released.is_set()
    assert len(accounts.list_users()) == 2


CHILD = """
from pipelines.accounts import users as accounts
for i in range(5):
    accounts.add_user(f"cli{i}@example.com", "ops", password="cli password {i}!".format(i=i), client="cli")
for i in range(100):
    with accounts.connect() as con, accounts._write(con):
        accounts._event(con, accounts.clock(), "cli_test", client="cli")
"""


def test_the_cli_and_the_dashboard_write_at_the_same_time(home):
    """Another process (the CLI) adds users while this one (the dashboard) logs people in."""
    accounts.add_user(EMAIL, "analyst", password=PASSWORD)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stderr=subprocess.PIPE, text=True)
    logins = 0
    try:
        while child.poll() is None or logins < 20:
            accounts.authenticate(EMAIL, PASSWORD, "dashboard")
            with accounts.connect() as con, accounts._write(con):
                accounts._event(con, accounts.clock(), "dashboard_test", client="dashboard")
            logins += 1
    finally:
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    assert len(accounts.list_users()) == 6
    counts = dict(rows("SELECT event, count(*) FROM auth_events GROUP BY event"))
    assert counts["cli_test"] == 100 and counts["dashboard_test"] == logins == counts["login_success"]


# --- the command line ----------------------------------------------------------------------------------

runner = CliRunner()


def users(*args: str, input: str | None = None):
    return runner.invoke(users_cli.users_app, list(args), input=input)


def assert_one_line_error(res, text: str) -> None:
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines == [f"error: {text}"] or (len(lines) == 1 and lines[0].startswith(f"error: {text}")), res.output
    assert "Traceback" not in res.output


LONG = "pat.privacy-officer.of.a.long.company.name@subdomain.example.org"


def test_cli_add_list_disable(home):
    assert users("list").output.strip() == "no accounts yet (add one with `mira users add`)"
    res = users("add", "--email", EMAIL, "--role", "manager", "--tenant", "acme", input=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "added account 1 (manager, tenant acme)"
    assert users("add", "--email", LONG, "--role", "privacy_officer",
                 input="another long password\r\n").exit_code == 0
    assert accounts.authenticate(EMAIL, PASSWORD).tenant_id == "acme"
    assert accounts.authenticate(LONG, "another long password").role == "privacy_officer"

    assert users("disable", "--email", LONG.upper()).output.strip() == "disabled account 2"
    listed = users("list")
    assert listed.exit_code == 0
    lines = [line for line in listed.output.splitlines() if "@" in line]
    assert len(lines) == 2
    assert all(word in lines[0] for word in (EMAIL, "manager", "acme", "active"))
    assert all(word in lines[1] for word in (LONG, "privacy_officer", "disabled"))   # piped: not folded
    assert "email" in listed.output and "created" in listed.output


def test_cli_prompts_twice_with_hidden_input_on_a_terminal(home, monkeypatch):
    monkeypatch.setattr(users_cli, "_stdin_is_tty", lambda: True)
    res = users("add", "--email", EMAIL, "--role", "ops", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert res.exit_code == 0, res.output
    assert res.output.count("Password") == 1 and "Repeat for confirmation" in res.output
    assert PASSWORD not in res.output                                        # hidden: not echoed
    assert accounts.authenticate(EMAIL, PASSWORD).role == "ops"

    res = users("add", "--email", "x@example.com", "--role", "ops", input="first password!!\nsecond password!\n")
    assert res.exit_code != 0
    assert "do not match" in res.output and "x@example.com" not in [u.email for u in accounts.list_users()]


def test_cli_never_takes_the_password_as_an_option(home):
    res = users("add", "--email", EMAIL, "--role", "ops", "--password", PASSWORD, input=PASSWORD + "\n")
    assert res.exit_code != 0 and "No such option" in res.output
    res = users("add", "--email", EMAIL, "--role", "ops", PASSWORD, input=PASSWORD + "\n")
    assert res.exit_code != 0
    assert accounts.list_users() == []


@pytest.mark.parametrize("args, stdin, message", [
    (("add", "--email", EMAIL, "--role", "boss"), PASSWORD, "unknown role 'boss'"),
    (("add", "--email", EMAIL, "--role", "manager"), PASSWORD, "the manager role needs a tenant (--tenant)"),
    (("add", "--email", EMAIL, "--role", "ops", "--tenant", "acme"), PASSWORD, "the ops role has no tenant"),
    (("add", "--email", EMAIL, "--role", "ops"), "short", "password too short"),
    (("add", "--email", EMAIL, "--role", "ops"), "", "no password on stdin"),
    (("add", "--email", "existing@example.com", "--role", "ops"), PASSWORD,
     "an account with this email already exists"),
    (("disable", "--email", "nobody@example.com"), "", "no account with this email"),
])
def test_cli_errors_are_one_line_with_exit_code_1(home, args, stdin, message):
    accounts.add_user("existing@example.com", "ops", password=PASSWORD)
    assert_one_line_error(users(*args, input=stdin + "\n" if stdin else ""), message)


def test_mira_users_is_registered_and_exits_1_through_main(home):
    """Through the real `mira` entry point (main() runs click with standalone_mode=False)."""
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "users", "add", "--email", EMAIL,
                          "--role", "ops"], input="short\n", capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and res.stderr.strip() == "error: password too short: use at least 12 characters"
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "users", "add", "--email", EMAIL,
                          "--role", "ops"], input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert PASSWORD not in res.stdout + res.stderr
    assert sqlite3.connect(home / "accounts.db").execute("SELECT role FROM accounts").fetchall() == [("ops",)]


def test_cli_names_choice_per_tenant(home):
    shown = users("names", "--tenant", "acme-bouw")
    assert shown.exit_code == 0 and "hidden" in shown.output
    on = users("names", "--tenant", "acme-bouw", "--show")
    assert on.exit_code == 0 and "shown to its managers" in on.output
    other = users("names", "--tenant", "other-bv")
    assert "hidden" in other.output          # one tenant's choice is not another's
    off = users("names", "--tenant", "acme-bouw", "--hide")
    assert "hidden" in off.output
    bad = users("names", "--tenant", "../x", "--show")
    assert bad.exit_code == 1 and "not a valid tenant id" in bad.output


def test_cli_demo_accounts_once_per_role(home):
    assert_one_line_error(users("demo"), "no tenant is published yet")
    tenants = home / "serving" / "tenants"
    tenants.mkdir(parents=True)
    (tenants / "acme-bouw.duckdb").write_bytes(b"")
    res = runner.invoke(users_cli.users_app, ["demo"], terminal_width=200)
    assert res.exit_code == 0, res.output
    rows = {line.split()[0]: line.split() for line in res.output.splitlines() if "@demo.mira.invalid" in line}
    assert set(rows) == {"manager@demo.mira.invalid", "analyst@demo.mira.invalid",
                         "ops@demo.mira.invalid", "privacy.officer@demo.mira.invalid"}
    manager = rows["manager@demo.mira.invalid"]
    assert manager[1:3] == ["manager", "acme-bouw"]
    account = accounts.authenticate("manager@demo.mira.invalid", manager[3], client="test")
    assert (account.role, account.tenant_id) == ("manager", "acme-bouw")
    again = runner.invoke(users_cli.users_app, ["demo"], terminal_width=200)
    assert again.exit_code == 0 and again.output.count("(exists, unchanged)") == 4
