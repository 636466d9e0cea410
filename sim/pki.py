"""A certificate authority made on the fly for a demo or a load test (``openssl`` command).

EC P-256 keys; the CA signs the broker's certificate (SAN localhost and 127.0.0.1) and one client
certificate per identity (CN = the identity, as ``docs/security.md`` requires). Certificates
already in the folder are kept, so a second run of the demo finds the same ones. Keys are mode 600.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import threading
from pathlib import Path

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""
_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


class PkiError(RuntimeError):
    """openssl failed; carries its message."""


def _openssl(*args: str | Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise PkiError("the openssl command is missing (Debian package openssl)")
    proc = subprocess.run(
        [exe, *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise PkiError(f"openssl {args[0]} failed:\n{proc.stderr}")


class Authority:
    """The CA in ``folder`` (made at first use) and the certificates it has issued there.
    Safe to share between threads (each certificate is made once)."""

    def __init__(self, folder: Path, name: str = "counterside demo CA") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.cnf = folder / "openssl.cnf"
        self.ca = folder / "ca.crt"
        self._key = folder / "ca.key"
        self._lock = threading.Lock()
        if not self.ca.exists():
            self.cnf.write_text(_CNF, encoding="ascii")
            _openssl(
                "req", "-x509", "-config", self.cnf, *_EC, "-keyout", self._key,
                "-out", self.ca, "-days", "3650", "-subj", f"/CN={name}", "-extensions", "v3_ca",
            )  # fmt: skip
            os.chmod(self._key, 0o600)

    def server(self) -> tuple[Path, Path]:
        """(certificate, key) of the broker."""
        return self._issue("localhost", "server", "v3_server")

    def client(self, name: str, *, expired: bool = False) -> tuple[Path, Path]:
        """(certificate, key) of identity ``name`` (its CN); ``expired``: one that has expired
        (a test of the broker's refusal)."""
        if expired:
            return self._issue(name, f"{name}.expired", "v3_client", days=-1)
        return self._issue(name, name, "v3_client")

    def _issue(self, cn: str, stem: str, extensions: str, days: int = 3650) -> tuple[Path, Path]:
        if not _NAME.fullmatch(cn):
            raise ValueError(f"certificate name {cn!r}: use [A-Za-z0-9_.-]{{1,64}}")
        crt, key = self.folder / f"{stem}.crt", self.folder / f"{stem}.key"
        with self._lock:
            if crt.exists() and key.exists():
                return crt, key
            csr = self.folder / f"{stem}.csr"
            _openssl("req", "-new", "-config", self.cnf, *_EC, "-keyout", key, "-out", csr,
                     "-subj", f"/CN={cn}")  # fmt: skip
            os.chmod(key, 0o600)
            tmp = crt.with_suffix(".tmp")
            _openssl(
                "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self._key,
                "-set_serial", f"0x{secrets.token_hex(8)}", "-days", str(days),
                "-extfile", self.cnf, "-extensions", extensions, "-out", tmp,
            )  # fmt: skip
            tmp.replace(crt)
            csr.unlink()
        return crt, key
