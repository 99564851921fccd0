"""The DataStax Python driver connects to the local stack exactly as to Astra.

These are the original tutorial's calls: ``Cluster(cloud={'secure_connect_bundle': …},
auth_provider=PlainTextAuthProvider('token', <token>))``. Nothing here is adapted to the stack.
"""

import os
import ssl
import time
import zipfile

import pytest
from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable


def setting(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through scripts/test")
    return value


def connect(username, password, **cloud_extra):
    cloud = {"secure_connect_bundle": setting("ASTRA_DB_SECURE_BUNDLE_PATH"), **cloud_extra}
    cluster = Cluster(cloud=cloud, auth_provider=PlainTextAuthProvider(username, password), connect_timeout=5)
    return cluster, cluster.connect()


def test_bundle_and_token_read_system_local():
    cluster, session = connect("token", setting("ASTRA_DB_APPLICATION_TOKEN"))
    try:
        row = session.execute("SELECT cluster_name, release_version FROM system.local").one()
        assert row.cluster_name
        assert row.release_version.startswith("5.0")
    finally:
        cluster.shutdown()


def test_client_id_and_secret_work_too():
    cluster, session = connect(setting("ASTRA_DB_CLIENT_ID"), setting("ASTRA_DB_CLIENT_SECRET"))
    try:
        assert session.execute("SELECT cluster_name FROM system.local").one().cluster_name
    finally:
        cluster.shutdown()


def test_token_role_can_write_in_the_default_keyspace():
    cluster, session = connect("token", setting("ASTRA_DB_APPLICATION_TOKEN"))
    keyspace = setting("ASTRA_DB_KEYSPACE")
    try:
        session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.python_proof (k text PRIMARY KEY, v int)")
        session.execute(f"INSERT INTO {keyspace}.python_proof (k, v) VALUES ('a', 1)")
        assert session.execute(f"SELECT v FROM {keyspace}.python_proof WHERE k = 'a'").one().v == 1
        session.execute(f"DROP TABLE {keyspace}.python_proof")
    finally:
        cluster.shutdown()


def test_wrong_token_fails_authentication():
    started = time.monotonic()
    with pytest.raises(NoHostAvailable) as failure:
        connect("token", "AstraCS:" + "x" * 24 + ":" + "0" * 64)
    assert any(isinstance(e, AuthenticationFailed) for e in failure.value.errors.values()), failure.value
    assert time.monotonic() - started < 15


def test_connection_without_client_certificate_fails(tmp_path):
    # Trust the bundle's CA but present no client certificate: the front door must refuse.
    with zipfile.ZipFile(setting("ASTRA_DB_SECURE_BUNDLE_PATH")) as bundle:
        ca = bundle.read("ca.crt").decode()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(cadata=ca)
    started = time.monotonic()
    with pytest.raises(Exception) as failure:
        connect("token", setting("ASTRA_DB_APPLICATION_TOKEN"), ssl_context=context)
    assert "metadata service" in str(failure.value), failure.value
    assert time.monotonic() - started < 15
