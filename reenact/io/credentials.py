"""C2PA content credentials (``--sign-key``, ``--sign-cert``): a manifest that says the output was
created by reenact with the IPTC digital source type of its marking, signed with the user's key,
embedded in the file by ``c2pa-python`` (the Content Authenticity Initiative's library).

What a signature proves is who signed and that the file has not changed since: a reader checks the
certificate chain against the trust lists it knows. A key and certificate you made yourself
verify as "untrusted" everywhere but where you add your own root; docs/marking.md says more.
"""

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reenact.io.errors import InputError

_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


@dataclass(frozen=True)
class SigningKey:
    """A private key and its certificate chain (PEM), checked, with the algorithm they sign with."""

    key: bytes
    cert: bytes
    alg: str  # a c2pa.C2paSigningAlg name: ES256, ES384, ES512, PS256, ED25519


def load_signing_key(key: str | Path, cert: str | Path) -> SigningKey:
    """Read and check ``--sign-key`` and ``--sign-cert``; one-line errors naming the file."""
    try:
        import c2pa  # noqa: F401 - checked before the work, not after it
    except ImportError:
        raise InputError("--sign-key needs c2pa-python (pip install c2pa-python)") from None
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = {}
    for flag, path in (("--sign-key", Path(key)), ("--sign-cert", Path(cert))):
        if not path.is_file():
            raise InputError(f"{path}: no such file ({flag})")
        data[flag] = path.read_bytes()
    try:
        private = load_pem_private_key(data["--sign-key"], password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{key}: not an unencrypted PEM private key ({exc})") from None
    try:
        chain = x509.load_pem_x509_certificates(data["--sign-cert"])
    except ValueError as exc:
        raise InputError(f"{cert}: not a PEM certificate chain ({exc})") from None
    if chain[0].public_key().public_numbers() != private.public_key().public_numbers():
        raise InputError(f"{cert}: its first certificate is not the one of {key}")
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name in _ALGS:
        alg = _ALGS[private.curve.name]
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        alg = "ED25519"
    elif isinstance(private, rsa.RSAPrivateKey):
        alg = "PS256"
    else:
        raise InputError(f"{key}: a {type(private).__name__} key; C2PA signs with EC P-256/384/"
                         f"521, Ed25519 or RSA")
    return SigningKey(data["--sign-key"], data["--sign-cert"], alg)


def sign(path: Path, signing: SigningKey, marking) -> None:
    """Embed a signed manifest in the written output at ``path`` (through a part file beside it,
    renamed over it: never a half-signed file)."""
    import c2pa

    from reenact import __version__

    manifest = {
        "claim_generator_info": [{"name": "reenact", "version": __version__}],
        "title": path.name,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "digitalSourceType": marking.source_type,
            "softwareAgent": {"name": "reenact", "version": __version__},
            "description": marking.statement}]}}]}
    info = c2pa.C2paSignerInfo(getattr(c2pa.C2paSigningAlg, signing.alg), signing.cert,
                               signing.key, None)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        os.unlink(tmp)  # c2pa writes the file itself
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
            builder.sign_file(str(path), tmp, signer)
        os.replace(tmp, path)
    except c2pa.C2paError as exc:
        raise InputError(f"{path}: C2PA signing failed ({str(exc).splitlines()[0]})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_credentials(path: Path) -> str | None:
    """A line on the C2PA manifest a file carries (its digital source type, who signed, whether
    the signer is trusted here), or None without one (or without c2pa-python)."""
    try:
        import c2pa
    except ImportError:
        return None
    import json

    try:
        with c2pa.Reader(str(path)) as reader:
            store = json.loads(reader.json())
    except Exception:  # noqa: BLE001 - no manifest, or a format c2pa does not read
        return None
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    kinds = [a.get("digitalSourceType", "") for assertion in active.get("assertions", [])
             if assertion.get("label", "").startswith("c2pa.actions")
             for a in assertion.get("data", {}).get("actions", [])]
    signer = active.get("signature_info", {})
    codes = {s.get("code", "") for s in store.get("validation_status", []) or []}
    if any("mismatch" in c or "invalid" in c for c in codes):  # changed since it was signed
        trust = "invalid"
    elif "signingCredential.untrusted" in codes:  # on no trust list known here
        trust = "untrusted signer"
    else:
        trust = "valid"
    kind = next((k.rsplit("/", 1)[-1] for k in kinds if k), "no source type")
    return (f"C2PA {kind}, signed by {signer.get('common_name', '?')} "
            f"({signer.get('issuer', '?')}), {trust}")
