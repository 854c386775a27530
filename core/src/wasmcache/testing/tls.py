"""A throw-away PKI for testing backends over TLS, made with the ``openssl`` command.

`make_test_pki(directory)` writes, in a few hundred milliseconds (EC P-256 keys):

* ``ca``: the test CA that signs everything below;
* ``server``: a server certificate for 127.0.0.1, ::1 and localhost;
* ``wrong_host``: a valid server certificate for another name (``wrong-host.invalid``);
* ``expired``: a certificate for 127.0.0.1 and localhost that expired in 2020;
* ``client``: a client certificate whose common name is `CLIENT_NAME` (PostgreSQL's
  ``clientcert=verify-full`` maps it to the database user of that name);
* ``other_ca``: a second CA that signed none of them, to stand for "the wrong CA".

Every key file is mode 0600 (libpq refuses a client key that others can read). A server that
runs as another user (PostgreSQL and MariaDB when the tests run as root) needs its own copy of
the server key: see `TestPki.install`. The ``wasmcache_test_pki`` fixture of the pytest plugin
makes one per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The common name of the client certificate (a database user name too).
CLIENT_NAME = "wasmcache"
SERVER_NAMES = "IP:127.0.0.1,IP:::1,DNS:localhost"

_CA_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any_name
copy_extensions = none
unique_subject = no
[any_name]
commonName = supplied
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${{ENV::SAN}}
"""


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class TestPki:
    """The files `make_test_pki` wrote; ``ca`` and ``other_ca`` are CA certificates."""

    __test__ = False  # not a pytest test class despite its name

    directory: Path
    ca: Path
    other_ca: Path
    server: KeyPair
    wrong_host: KeyPair
    expired: KeyPair
    client: KeyPair

    def install(self, pair: KeyPair, directory: Path, owner: str | None = None) -> KeyPair:
        """Copy `pair` (and the CA, as ``ca.pem``) into `directory`, owned by `owner` when we
        are root, so a server running as that user may read its key (mode 0600)."""
        directory.mkdir(parents=True, exist_ok=True)
        copied = KeyPair(directory / "server.pem", directory / "server.key")
        for source, target in ((pair.cert, copied.cert), (pair.key, copied.key),
                               (self.ca, directory / "ca.pem")):
            shutil.copyfile(source, target)
            target.chmod(0o600)
            if owner is not None and os.geteuid() == 0:
                shutil.chown(target, owner, owner)
        return copied


def _openssl(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True,
                   env={**os.environ, **(env or {})})


def _new_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3",
             "-subj", f"/CN=wasmcache {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    key.chmod(0o600)
    return cert, key


def _leaf(directory: Path, name: str, common_name: str, san: str, ca: tuple[Path, Path],
          dates: tuple[str, str] | None = None) -> KeyPair:
    key, csr, cert = (directory / f"{name}.key", directory / f"{name}.csr",
                      directory / f"{name}.pem")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={common_name}")
    key.chmod(0o600)
    validity = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "2"]
    _openssl("ca", "-batch", "-notext", "-config", str(directory / "ca.cnf"),
             "-extensions", "leaf", "-cert", str(ca[0]), "-keyfile", str(ca[1]),
             "-in", str(csr), "-out", str(cert), *validity, env={"SAN": san})
    csr.unlink()
    return KeyPair(cert, key)


def make_test_pki(directory: Path) -> TestPki:
    """Write the CA, the second CA and the four certificates into `directory` (see above)."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is needed to make test certificates "
                           "(Debian: apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.cnf").write_text(_CA_CONFIG.format(dir=directory))
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("1000\n")
    ca = _new_ca(directory, "ca")
    other_ca, _ = _new_ca(directory, "other-ca")
    return TestPki(
        directory=directory,
        ca=ca[0],
        other_ca=other_ca,
        server=_leaf(directory, "server", "127.0.0.1", SERVER_NAMES, ca),
        wrong_host=_leaf(directory, "wrong-host", "wrong-host.invalid",
                         "DNS:wrong-host.invalid", ca),
        expired=_leaf(directory, "expired", "127.0.0.1", SERVER_NAMES, ca,
                      dates=("20200101000000Z", "20200102000000Z")),
        client=_leaf(directory, "client", CLIENT_NAME, f"DNS:{CLIENT_NAME}", ca),
    )
