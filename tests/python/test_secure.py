"""Production clusters from Python (issue 10): TLS with client certificates, auth, and the
same settings taken from the environment."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import turtle_finder as tf
from conftest import Cluster, run_python


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[Cluster]:
    c = Cluster(options=("--tls", "--client-cert-auth"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def auth_cluster() -> Iterator[Cluster]:
    c = Cluster(options=("--auth", "rootpw"))
    yield c
    c.close()


def test_tls_with_a_client_certificate(tls_cluster: Cluster) -> None:
    c = tls_cluster.certs
    tls_cluster.put("/services/py-tls", "secure")
    sf = tf.ServiceFinder(tls_cluster.endpoints, ca_file=c["ca"], cert_file=c["client_cert"], key_file=c["client_key"])
    assert sf.get_service("py-tls") == "secure"
    got = threading.Event()

    def on_change(value: object) -> None:
        if value == "changed":
            got.set()

    sf.watch_service("py-tls", on_change)
    tls_cluster.put("/services/py-tls", "changed")
    assert got.wait(20)
    tls_cluster.call("kill 0")  # failover over TLS
    for _ in range(50):
        assert sf.get_service("py-tls") == "changed"
    sf.close()
    wrong = tf.ServiceFinder(
        tls_cluster.endpoints, ca_file=c["wrong_ca"], cert_file=c["client_cert"], key_file=c["client_key"]
    )
    with pytest.raises(tf.UnavailableError, match="(?i)certificate"):
        wrong.get_service("py-tls", timeout=2)
    with pytest.raises(tf.InvalidArgumentError, match="/nonexistent/ca.pem"):
        tf.ServiceFinder(tls_cluster.endpoints, ca_file="/nonexistent/ca.pem")
    with pytest.raises(tf.InvalidArgumentError, match="go together"):
        tf.ServiceFinder(tls_cluster.endpoints, cert_file=c["client_cert"])


def test_dns_srv_discovery_with_tls_from_keywords(tls_cluster: Cluster) -> None:
    # Issue 19, item 20: the unused default endpoint tripped the TLS check, so only the
    # environment could set this. The name server is a closed port: discovery itself
    # must be what fails, with its own words.
    c = tls_cluster.certs
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(tf.UnavailableError, match="DNS SRV discovery of .turtle.test. found no members"):
        tf.ServiceFinder(discovery_srv="turtle.test", name_server=closed, ca_file=c["ca"], timeout=1.0)


def test_tls_settings_from_the_environment(tls_cluster: Cluster) -> None:
    c = tls_cluster.certs
    tls_cluster.put("/services/py-tls-env", "from env")
    env = {
        **tls_cluster.env,
        "TURTLE_CA_FILE": c["ca"],
        "TURTLE_CERT_FILE": c["client_cert"],
        "TURTLE_KEY_FILE": c["client_key"],
    }
    code = "import turtle_finder as tf; print(tf.ServiceFinder().get_service('py-tls-env'))"
    r = run_python(code, env)
    assert r.returncode == 0 and r.stdout.strip() == "from env", r.stderr


def test_auth_right_and_wrong_passwords(auth_cluster: Cluster) -> None:
    auth_cluster.put("/services/py-auth", "for readers")
    with tf.ServiceFinder(auth_cluster.endpoints, user="reader", password="readerpw") as sf:
        assert sf.get_service("py-auth") == "for readers"
    with tf.ServiceFinder(auth_cluster.endpoints, user="reader", password="wrong") as sf:
        with pytest.raises(tf.PermissionDeniedError, match="authentication failed") as e:
            sf.get_service("py-auth")
        assert "wrong" not in str(e.value).replace("wrong password", "")
    with tf.ServiceFinder(auth_cluster.endpoints) as sf:
        with pytest.raises(tf.PermissionDeniedError, match="requires authentication"):
            sf.get_service("py-auth")
    env = {**auth_cluster.env, "TURTLE_USER": "reader", "TURTLE_PASSWORD": "readerpw"}
    r = run_python("import turtle_finder as tf; print(tf.ServiceFinder().get_service('py-auth'))", env)
    assert r.returncode == 0 and r.stdout.strip() == "for readers", r.stderr
