"""``--sign-key`` / ``--sign-cert``: C2PA content credentials embedded in the outputs, read back
by ``reenact verify``; bad keys and certificates are one line before any work."""

import datetime

import pytest

from reenact.cli import EXIT_INPUT, main
from reenact.io import read_image, write_image
from reenact.io.marking import read_marking

pytest.importorskip("c2pa", reason="c2pa-python is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A test root and an EC P-256 signing certificate it issued (as a user's own would be)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = tmp_path_factory.mktemp("keys")
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "reenact tests")])

    def usage(sign_certs):
        return x509.KeyUsage(digital_signature=not sign_certs, content_commitment=False,
                             key_encipherment=False, data_encipherment=False,
                             key_agreement=False, key_cert_sign=sign_certs, crl_sign=sign_certs,
                             encipher_only=False, decipher_only=False)

    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    span = {"not_valid_before": now - datetime.timedelta(days=1),
            "not_valid_after": now + datetime.timedelta(days=30)}
    root = (x509.CertificateBuilder(issuer_name=name("test root"), subject_name=name("test root"),
                                    public_key=root_key.public_key(),
                                    serial_number=x509.random_serial_number(), **span)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage(True), critical=True).sign(root_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder(issuer_name=root.subject,
                                    subject_name=name("reenact test signer"),
                                    public_key=key.public_key(),
                                    serial_number=x509.random_serial_number(), **span)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (d / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    (d / "cert.pem").write_bytes(cert.public_bytes(pem) + root.public_bytes(pem))
    other = ec.generate_private_key(ec.SECP256R1())
    (d / "other.pem").write_bytes(other.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return d


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, samples):
    d = tmp_path_factory.mktemp("sign-in")
    write_image(d / "astronaut.png", samples["astronaut"])
    write_image(d / "hopper.png", samples["grace_hopper"])
    return d


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_signed_outputs_carry_credentials_and_the_metadata(keys, inputs, tmp_path, capfd,
                                                           suffix):
    out = tmp_path / f"out{suffix}"
    code = main(["animate", "-s", str(inputs / "astronaut.png"), "-d", str(inputs / "hopper.png"),
                 "-o", str(out), "--crop-only", "--sign-key", str(keys / "key.pem"),
                 "--sign-cert", str(keys / "cert.pem")])
    assert code == 0, capfd.readouterr().err
    assert read_marking(out) is not None  # the metadata survives the signing
    assert read_image(out).shape == (256, 256, 3)
    capfd.readouterr()
    assert main(["verify", str(out)]) == 0
    line = capfd.readouterr().out
    assert "C2PA compositeSynthetic, signed by reenact test signer (reenact tests)" in line
    assert "untrusted signer" in line  # our own test root is on no trust list
    assert not list(tmp_path.glob(".out*"))  # no part file left


@pytest.mark.parametrize("flags,match", [
    (["--sign-key", "{k}/key.pem"], "go together"),
    (["--sign-key", "{k}/cert.pem", "--sign-cert", "{k}/cert.pem"], "not an unencrypted PEM"),
    (["--sign-key", "{k}/key.pem", "--sign-cert", "{k}/key.pem"], "not a PEM certificate"),
    (["--sign-key", "{k}/other.pem", "--sign-cert", "{k}/cert.pem"], "is not the one of"),
    (["--sign-key", "{k}/missing.pem", "--sign-cert", "{k}/cert.pem"], "no such file"),
])
def test_bad_keys_are_one_line_before_the_work(keys, inputs, tmp_path, capfd, flags, match):
    out = tmp_path / "out.png"
    code = main(["animate", "-s", str(inputs / "astronaut.png"), "-d", str(inputs / "hopper.png"),
                 "-o", str(out), *[f.format(k=keys) for f in flags]])
    err = capfd.readouterr().err
    assert code == EXIT_INPUT and match in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_signed_file_changed_afterwards_is_reported_invalid(keys, inputs, tmp_path, capfd):
    out = tmp_path / "out.jpg"
    assert main(["animate", "-s", str(inputs / "astronaut.png"), "-d", str(inputs / "hopper.png"),
                 "-o", str(out), "--crop-only", "--sign-key", str(keys / "key.pem"),
                 "--sign-cert", str(keys / "cert.pem")]) == 0
    data = bytearray(out.read_bytes())
    data[-200] ^= 0x10  # one bit of the picture's coded data, after the signature was made
    out.write_bytes(bytes(data))
    capfd.readouterr()
    assert main(["verify", str(out)]) == 0  # still says what it claims to be ...
    line = capfd.readouterr().out
    assert "C2PA compositeSynthetic" in line and line.rstrip().endswith("invalid)"), line  # ...
