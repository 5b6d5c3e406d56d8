"""The privacy corpus: secrets and personal data in every encoding, pasted format, request field and position,
and look-alikes that must not fire. Every secret is built from parts here (keys are generated at import), never
written whole. Used by tests/router/test_privacy_corpus.py, the live test and bench.privacy."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from tests.router import fakes

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())
_ED = ed25519.Ed25519PrivateKey.generate()
_ENC = serialization.NoEncryption()
_PEM = serialization.Encoding.PEM
RSA_PKCS1_PEM = _RSA.private_bytes(_PEM, serialization.PrivateFormat.TraditionalOpenSSL, _ENC).decode()
RSA_PKCS8_PEM = _RSA.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, _ENC).decode()
EC_PEM = _EC.private_bytes(_PEM, serialization.PrivateFormat.TraditionalOpenSSL, _ENC).decode()
OPENSSH_PEM = _ED.private_bytes(_PEM, serialization.PrivateFormat.OpenSSH, _ENC).decode()
PKCS8_DER = _RSA.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, _ENC)
EC_DER = _EC.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, _ENC)
PUBLIC_PEM = _RSA.public_key().public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
SSH_PUBLIC = _ED.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
ED_RAW_HEX = _ED.private_bytes(
    serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
).hex()
EC_SCALAR_HEX = _EC.private_numbers().private_value.to_bytes(32, "big").hex()
SSH_RSA_PUBLIC = (
    _RSA.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
)


def _certificate() -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo.internal")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_EC.public_key())
        .serial_number(1001)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(_EC, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


CERTIFICATE_PEM = _certificate()


def _png(width: int = 24, height: int = 24) -> bytes:
    """A small real PNG (noise-free gradient), as people paste inline images."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((x * 10 + y * 3) % 256 for x in range(width * 3)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PGP_BLOCK = (
    "-----BEGIN PGP "
    + "PRIVATE KEY BLOCK-----\n\nlQOYBF"
    + "x9Kq2Lm" * 12
    + "\n=Ab12\n-----END PGP PRIVATE KEY BLOCK-----"
)

AWS_SECRET = "wJalr" + "XUtnFEMI/K7MDENG/bPxRfiCY" + "9q8w7e6r5t"
PASSWORD = "Vq8-" + "zR2p!mK"
IBAN = "DE89 " + "3704 0044 0532 0130 00"
CARD = "4539 " + "1488 0343 6467"


def _b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def _b64url(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _wrapped(blob: str, width: int = 64, indent: str = "") -> str:
    return "\n".join(indent + blob[i : i + width] for i in range(0, len(blob), width))


_SA_JSON = json.dumps(
    {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "3f" + "a1c2" * 9,
        "private_key": RSA_PKCS8_PEM,
        "client_email": "svc@demo-project.iam.gserviceaccount.com",
    },
    indent=2,
)

# (name, text): what a person pastes.
SECRETS: list[tuple[str, str]] = [
    ("github_token", f"my token is {fakes.GITHUB_TOKEN}, why does push fail?"),
    ("aws_key_id", f"aws_access_key_id = {fakes.AWS_KEY_ID}"),
    ("slack_token", f"Slack bot: {fakes.SLACK_TOKEN} stopped posting"),
    ("pem_pkcs1", f"Is this key ok?\n{RSA_PKCS1_PEM}"),
    ("pem_ec", f"ssl_key:\n{EC_PEM}"),
    ("openssh_key", f"my id_ed25519:\n{OPENSSH_PEM}"),
    ("pgp_key", f"exported:\n{PGP_BLOCK}"),
    ("postgres_url", f"DATABASE_URL works locally: {fakes.DB_URL}"),
    ("kubeconfig_key", f"users:\n- name: admin\n  user:\n    client-key-data: {_b64(RSA_PKCS1_PEM)}\n"),
    (
        "kubeconfig_token",
        "users:\n- name: ci\n  user:\n    token: "
        + "eyJhbGciOiJSUzI1NiJ9."
        + _b64url('{"sub":"system:sa:ci"}')
        + ".Sig"
        + "Ab1x9Qz" * 6,
    ),
    ("base64url_pem", f"decode this: {_b64url(RSA_PKCS8_PEM)}"),
    ("base64_wrapped_pem", "key.b64:\n" + _wrapped(_b64(EC_PEM), 76, "    ")),
    ("der_pkcs8_base64", f"privateKey: {_b64(PKCS8_DER)}"),
    ("der_ec_base64", f"the key bytes are {_b64(EC_DER)}"),
    ("url_encoded_pem", "POST body key=" + urllib.parse.quote(RSA_PKCS1_PEM)),
    ("json_escaped_pem", json.dumps({"key": EC_PEM})),
    ("gcp_service_account", _SA_JSON),
    ("gcp_service_account_b64", f"GOOGLE_CREDENTIALS={_b64(_SA_JSON)}"),
    ("docker_auths", json.dumps({"auths": {"registry.example.io": {"auth": _b64("deploy:" + PASSWORD)}}})),
    ("npmrc", "//registry.npmjs.org/:_authToken=npm_" + "Zx81Kq" * 6),
    ("pypirc", f"[pypi]\nusername = __token__\npassword = pypi-Ag{'EIcHlwaS5vcmc' * 4}"),
    ("netrc", f"machine api.internal.net login deploy password {PASSWORD}"),
    ("dotenv", f"APP_ENV=prod\nSTRIPE_KEY={fakes.STRIPE_KEY}\nDEBUG=0"),
    ("azure_conn", "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + "Zq9Lw2Xe7R" * 8 + "Ab3dEf" + "==;"),
    ("sql_conn", f"Server=db1;Database=app;User Id=sa;Password={PASSWORD};"),
    ("aws_credentials", f"[default]\naws_access_key_id = {fakes.AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}"),
    ("jwt", f"Authorization: Bearer {fakes.JWT}"),
    ("cookie", "GET /account HTTP/1.1\nHost: shop.internal\nCookie: sessionid=" + "h7Kq2Lx9Pz4M" * 3 + "; theme=dark"),
    ("iban_then_words", f"pay {IBAN} now please"),
    ("iban_compact_in_sentence", "wire it to " + IBAN.replace(" ", "") + " before friday"),
    ("card_then_words", f"charge card {CARD} tomorrow"),
    ("phone_in_text", "call me on +49 30 " + "901820" + " tonight"),
    ("base64_iban", "ref " + _b64(f"beneficiary account {IBAN}")),
    # Hex-encoded keys where the name says so.
    ("hex_ed25519_named", f'ed25519_private_key_hex = "{ED_RAW_HEX}"'),
    ("hex_camel_named", f"const privateKeyHex = '{EC_SCALAR_HEX}';"),
    ("hex_eth_key", f"PRIVATE_KEY=0x{EC_SCALAR_HEX}"),
    ("hex_der_named", f"signing_key_der: {PKCS8_DER.hex()}"),
    # Keys split across lines, indented in config files or code string literals.
    ("yaml_block_pem", "tls:\n  cert: server.crt\n  key: |\n" + _wrapped(RSA_PKCS8_PEM.strip(), 64, "    ")),
    ("toml_multiline_pem", f'[server]\nport = 8443\ntls_key = """\n{EC_PEM}"""'),
    (
        "hcl_heredoc_der",
        'variable "client_key" {\n  default = <<EOT\n' + _wrapped(_b64(PKCS8_DER), 64, "    ") + "\nEOT\n}",
    ),
    ("ini_password", f"[database]\nhost = db1.internal\nuser = app\npassword = {PASSWORD}\n"),
    (
        "python_split_literal",
        "KEY_DER = (\n" + "\n".join(f'    "{line}"' for line in _wrapped(_b64(EC_DER), 40).splitlines()) + "\n)",
    ),
    (
        "js_concatenated_token",
        'const token = "' + fakes.GITHUB_TOKEN[:20] + '" +\n  "' + fakes.GITHUB_TOKEN[20:] + '";',
    ),
    ("json_escaped_der", json.dumps({"key": _wrapped(_b64(PKCS8_DER), 64)})),
    # Formats people paste.
    ("npmrc_auth", "registry=https://npm.internal/\n//npm.internal/:_auth=" + _b64("ci:" + PASSWORD)),
    ("netrc_multiline", f"machine git.internal\n  login deploy\n  password {PASSWORD}\n"),
    ("dotenv_quoted", f'export GITHUB_TOKEN="{fakes.GITHUB_TOKEN}"\nDB_PASSWORD="{PASSWORD}"'),
    (
        "servicebus_conn",
        "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey="
        + "Zq9Lw2Xe7R" * 4
        + "Ab3=",
    ),
    ("jdbc_password", f"jdbc:postgresql://db1:5432/app?user=app&password={PASSWORD}&ssl=true"),
    ("mongodb_srv", "MONGO_URI=mongodb+srv://app:" + PASSWORD + "@cluster0.internal/app"),
    ("aws_session_token", "[prod]\naws_session_token = IQoJb3JpZ2luX2VjE" + "Kz8Lm2Qw9" * 8),
    (
        "putty_ppk_v3",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: me\nPublic-Lines: 2\nAAAAC3Nz\n"
        + "Private-Lines: 1\nAAAAI"
        + "Lm2Qw9Kz8" * 4,
    ),
    (
        "encrypted_pem",
        "-----BEGIN RSA "
        + "PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F2A\n\n"
        + _wrapped(_b64(PKCS8_DER))[:400]
        + "\n-----END RSA PRIVATE KEY-----",
    ),
    ("basic_auth_header", "GET /api HTTP/1.1\nHost: internal\nAuthorization: Basic " + _b64("admin:" + PASSWORD)),
    ("set_cookie", "HTTP/1.1 200 OK\nSet-Cookie: __Host-session=" + "Qm9Lx2Kp7Zt4" * 3 + "; Path=/; Secure; HttpOnly"),
    ("session_header", "curl -H 'X-Session-Token: " + "h7Kq2Lx9Pz4M" * 3 + "' https://api.internal/me"),
    ("jwt_in_url", f"https://app.internal/callback#id_token={fakes.JWT}&state=af0ifjsldkj"),
    ("kubeconfig_password", "users:\n- name: admin\n  user:\n    username: admin\n    password: " + PASSWORD),
    # Personal data with text around it.
    ("ssn_in_text", f"her SSN {fakes.SSN_VALID} was on the form"),
    ("nino_in_text", "my National Insurance number is AB 12 34 56 C, is that right?"),
    ("dni_in_text", "DNI 12345678Z, nacido en Madrid"),
    ("nir_in_text", "numéro de sécurité sociale 2 55 08 14 168 025 38 pour le dossier"),
    ("codice_fiscale_in_text", "il mio codice è RSSMRA85T10A562S grazie"),
    ("us_phone_in_text", "text (415) 555-2671 after 6pm"),
    ("uk_phone_in_text", "office line +44 20 7946 0958, ask for Sam"),
    ("amex_in_text", "Amex 3782 822463 10005 exp 04/28"),
    ("gb_iban_glued", "IBAN:GB82WEST12345698765432."),
]

_SECRET_BY_NAME = dict(SECRETS)

# Look-alikes that must not fire.
BENIGN: list[tuple[str, str]] = [
    ("aws_example_key", "aws_access_key_id = AKIA" + "IOSFODNN7EXAMPLE"),
    ("placeholder_key", "export OPENAI_API_KEY=<your-key>"),
    ("placeholder_password", "password: ${DB_PASSWORD}"),
    ("public_pem", f"Here is our public key:\n{PUBLIC_PEM}"),
    ("ssh_public", f"add this to authorized_keys: {SSH_PUBLIC}"),
    (
        "ca_data",
        "clusters:\n- cluster:\n    certificate-authority-data: "
        + _b64("-----BEGIN " + "CERTIFICATE-----\nMIIC" + "qZx1" * 40 + "\n-----END CERTIFICATE-----\n"),
    ),
    ("sha256", "sha256sum says 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    ("git_sha", "revert commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad please"),
    ("uuid", "request id 123e4567-e89b-12d3-a456-426614174000 failed"),
    ("regex_email", r"Why does ^[\w.]+@example\.com$ not match user@example.com?"),
    ("maths_number", "Is 4539148803436467 divisible by 7? Show the long division."),
    ("big_product", "Compute 123456789 * 987654321 step by step."),
    ("base64_hello", "What does " + _b64("Hello, world! This is a plain sentence to decode.") + " decode to?"),
    ("base64_json", "decode " + _b64(json.dumps({"name": "widget", "size": 3, "tags": ["a", "b"]}))),
    ("python_code", "def add(a, b):\n    return a + b\n\nprint(add(2, 3))"),
    ("yaml_config", "replicas: 3\nimage: nginx:1.27\nports:\n  - containerPort: 80"),
    ("iso_dates", "between 2024-01-15 and 2024-03-20 how many days?"),
    ("version", "upgrade from 1.24.3 to 1.25.0 broke the build"),
    ("prose", "Summarise the causes of the French Revolution in three paragraphs."),
    ("url", "see https://docs.python.org/3/library/base64.html for details"),
    ("isbn", "ISBN 978-0-306-40615-7 is the book"),
    ("long_words", "internationalization-localization-accessibility-considerations-for-enterprise-software"),
    ("env_no_secrets", "APP_ENV=production\nLOG_LEVEL=info\nPORT=8080"),
    ("token_word", "How many tokens does GPT-4 use for a 1,000-word essay?"),
    ("password_advice", "What makes a password strong? Give rules, not examples."),
    ("aws_example_secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"),
    ("masked_values", "password: ********\ntoken: <token>\napi_key = sk-..."),
    ("certificate_pem", f"Why does nginx reject this cert?\n{CERTIFICATE_PEM}"),
    ("client_certificate_data", "    client-certificate-data: " + _b64(CERTIFICATE_PEM)),
    ("ssh_rsa_public", f"authorized_keys line: {SSH_RSA_PUBLIC} deploy@ci"),
    ("inline_png", f'<img alt="logo" src="data:image/png;base64,{_b64(_png())}">'),
    ("markdown_png", f"![chart](data:image/png;base64,{_b64(_png(40, 12))})"),
    ("md5_sha1", f"md5 {hashlib.md5(b'a').hexdigest()} sha1 {hashlib.sha1(b'a').hexdigest()} differ?"),
    ("sha512", f"expected sha512: {hashlib.sha512(b'release').hexdigest()}"),
    ("docker_digest", "image: nginx@sha256:" + hashlib.sha256(b"nginx").hexdigest()),
    (
        "uuid_keys",
        "idempotency_key: 123e4567-e89b-12d3-a456-426614174000\ntrace_id: 4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
    ),
    ("prime_question", "Is 4111111111111111 a prime number? Find its smallest factor."),
    ("openssl_howto", "How do I generate a private key and a CSR with openssl for nginx?"),
    ("regex_question", r"Write a regex for emails like first.last@example.org and test it on alice@example.com"),
    ("mac_ipv6", "MAC 00:1A:2B:3C:4D:5E and IPv6 2001:db8:85a3::8a2e:370:7334 on eth0"),
    ("hex_colour", "Use #1e90ff for links and #ff6347 for errors in the CSS."),
    ("public_key_hex", f"public_key_hex: {_ED.public_key().public_bytes_raw().hex()}"),
]


def _user(text: str) -> dict[str, Any]:
    return {"model": "max-auto", "messages": [{"role": "user", "content": text}]}


# Positions: where in a request the text sits.
POSITIONS: dict[str, Callable[[str], dict[str, Any]]] = {
    "user_turn": _user,
    "system_prompt": lambda t: {
        "model": "max-auto",
        "messages": [{"role": "system", "content": t}, {"role": "user", "content": "Go on."}],
    },
    "earlier_turn": lambda t: {
        "model": "max-auto",
        "messages": [
            {"role": "user", "content": t},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "Now write a haiku."},
        ],
    },
    "multimodal_part": lambda t: {
        "model": "max-auto",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "text", "text": t}]}],
    },
    "tool_call_arguments": lambda t: {
        "model": "max-auto",
        "messages": [
            {"role": "user", "content": "Save it."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "save", "arguments": json.dumps({"v": t})}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "saved"},
        ],
    },
    "tool_result": lambda t: {
        "model": "max-auto",
        "messages": [
            {"role": "user", "content": "Read the file."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": t},
        ],
    },
    "legacy_function_call": lambda t: {
        "model": "max-auto",
        "messages": [
            {"role": "user", "content": "Store it."},
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "store", "arguments": json.dumps({"v": t})},
            },
        ],
    },
    "responses_input": lambda t: {
        "model": "max-auto",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": t}]}],
    },
    "responses_instructions": lambda t: {"model": "max-auto", "instructions": t, "input": "Continue."},
    "completion_prompt": lambda t: {"model": "max-auto", "prompt": t},
    "metadata": lambda t: {**_user("Hello there."), "metadata": {"note": t}},
}

# The positions a chat completion can carry through the live proxy.
CHAT_POSITIONS = ("user_turn", "system_prompt", "earlier_turn", "multimodal_part", "tool_result")


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    body: dict[str, Any]


def positive_cases() -> list[Case]:
    return [Case(f"{name}-{pos}", text, build(text)) for name, text in SECRETS for pos, build in POSITIONS.items()]


def negative_cases() -> list[Case]:
    return [
        Case(f"{name}-{pos}", text, POSITIONS[pos](text))
        for name, text in BENIGN
        for pos in ("user_turn", "tool_result")
    ]


def secret_text(name: str) -> str:
    return _SECRET_BY_NAME[name]
