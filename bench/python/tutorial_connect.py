"""The original tutorial's Python program (Astra DB, "3.1 Cassandra Drivers"), unchanged except
that the client id (or "token"), the secret and the bundle path come from the environment instead
of the command line, so that the token never shows in a process list.

    python tutorial_connect.py     # prints the cluster name
"""

import os

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster

clientID = "token"
secret = os.environ["ASTRA_DB_APPLICATION_TOKEN"]
secureBundleLocation = os.environ["ASTRA_DB_SECURE_BUNDLE_PATH"]

cloud_config = {"secure_connect_bundle": secureBundleLocation}
auth_provider = PlainTextAuthProvider(clientID, secret)
cluster = Cluster(cloud=cloud_config, auth_provider=auth_provider)
session = cluster.connect()

row = session.execute("select cluster_name from system.local").one()
if row:
    print(row[0])
else:
    print("An error occurred.")
