"""A user id that moves tenant (the person left one customer for another, whose platform reuses
the id): the two tenants' records are never linked. Pseudonyms differ, each identity stays in its
own tenant's vault rows, and nothing of one tenant's files lands under the other."""
from __future__ import annotations

from pipelines.ingest.load import ingest
from pipelines.warehouse import open_file
from tests.conftest import key_for, write_csv
from tests.factories import MOVEMENT_FIELDS, USER_FIELDS, movement, user

UID = "u-31d0"


def rows(home, sql):
    con = open_file(home / "warehouse.duckdb", read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def identities(home):
    vault = open_file(home / "vault.duckdb", read_only=True, key=key_for(home / "vault.duckdb"))
    try:
        return vault.execute("SELECT tenant_id, user_id, first_name, user_pseudonym FROM identities "
                             "ORDER BY tenant_id").fetchall()
    finally:
        vault.close()


def test_a_user_id_in_two_tenants_is_two_unrelated_people(mira_home, landing):
    write_csv(landing / "acme/users/u.csv", USER_FIELDS, [user(UID, first_name="Firstacme")])
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [movement("M1", user_id=UID)])
    ingest()
    before = rows(mira_home, "SELECT tenant_id, user_pseudonym, _source_file FROM raw.users")

    # later the id turns up in beta's export, once in a row that still says it is acme's
    write_csv(landing / "beta/users/u.csv", USER_FIELDS, [user(UID, tenant="beta", first_name="Firstbeta"),
                                                          user("u-other", tenant="acme")])
    write_csv(landing / "beta/movements/m.csv", MOVEMENT_FIELDS, [movement("M1", tenant="beta", user_id=UID),
                                                                  movement("M2", tenant="acme", user_id=UID)])
    report = ingest()
    assert report.quarantined_by_rule == {"users.tenant_id.folder": 1, "movements.tenant_id.folder": 1}

    users = dict(rows(mira_home, "SELECT tenant_id, user_pseudonym FROM raw.users"))
    assert set(users) == {"acme", "beta"} and users["acme"] != users["beta"]
    assert rows(mira_home, "SELECT tenant_id, user_pseudonym, _source_file FROM raw.users "
                           "WHERE tenant_id = 'acme'") == before          # acme's person untouched
    moves = dict(rows(mira_home, "SELECT tenant_id, user_pseudonym FROM raw.movements"))
    assert moves == users                      # each movement points at its own tenant's person
    # nothing of one tenant's folder is stored under the other tenant
    for table in ("users", "movements"):
        assert rows(mira_home, f"SELECT count(*) FROM raw.{table} "
                               "WHERE split_part(_source_file, '/', 1) <> tenant_id") == [(0,)]
    assert rows(mira_home, "SELECT DISTINCT tenant_id, split_part(file_path, '/', 1) FROM quarantine.rows") == [
        ("beta", "beta")]
    # two identities, each with its own name and its own tenant's pseudonym
    assert identities(mira_home) == [("acme", UID, "Firstacme", users["acme"]),
                                     ("beta", UID, "Firstbeta", users["beta"])]
