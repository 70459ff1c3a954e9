"""sandbox/generate-certs.sh makes a certificate that OpenSSL and Python's TLS clients accept for localhost."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from stack_files import REPO_ROOT

SCRIPT = REPO_ROOT / "sandbox" / "generate-certs.sh"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="openssl is not installed (Debian: apt-get install openssl)")


def generate(out_dir, *names, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(SCRIPT), str(out_dir), *names], capture_output=True, text=True, check=True,
                          timeout=60, env=env)


def openssl(*arguments) -> str:
    result = subprocess.run(["openssl", *arguments], capture_output=True, text=True, timeout=30, check=False)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("certs")
    generate(out_dir, "reverse-proxy")
    return out_dir


def test_the_certificate_chains_to_the_generated_ca(certs):
    assert sorted(path.name for path in certs.iterdir()) == ["ca.crt", "server.crt", "server.key"]
    assert f"{certs / 'server.crt'}: OK" in openssl("verify", "-CAfile", str(certs / "ca.crt"), str(certs / "server.crt"))


@pytest.mark.parametrize(("check", "name", "matches"), [
    ("-checkhost", "localhost", True),
    ("-checkhost", "reverse-proxy", True),
    ("-checkip", "127.0.0.1", True),
    ("-checkip", "::1", True),
    ("-checkhost", "example.org", False),
])
def test_the_certificate_names_localhost_and_the_extra_names(certs, check, name, matches):
    output = openssl("x509", "-in", str(certs / "server.crt"), "-noout", check, name)
    assert ("does match" in output) is matches, output


def test_the_server_key_is_private_and_the_ca_key_is_gone(certs):
    assert (certs / "server.key").stat().st_mode & 0o077 == 0
    assert not (certs / "ca.key").exists(), "the CA key would let anyone sign certificates your browser trusts"


def test_a_python_client_trusting_the_ca_completes_a_handshake_with_localhost(certs):
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certs / "server.crt", certs / "server.key")
    client_context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        errors = []

        def serve():
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True) as tls:
                    tls.sendall(b"ok")
            except Exception as error:  # reported below
                errors.append(error)

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client_context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.recv(2) == b"ok"
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
        thread.join(10)
        assert not errors


def test_running_again_keeps_a_valid_certificate_and_replaces_one_that_lacks_a_name(tmp_path):
    generate(tmp_path)
    first = (tmp_path / "server.crt").read_bytes()
    assert "keeping" in generate(tmp_path).stdout
    assert (tmp_path / "server.crt").read_bytes() == first
    generate(tmp_path, "reverse-proxy")
    assert (tmp_path / "server.crt").read_bytes() != first
