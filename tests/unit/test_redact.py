"""One redaction function for every string the harness writes: no password of any URL or DSN
shape survives it, and what is not a credential stays readable."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from worker_soak.redact import MASK, environment_secrets, redact, redact_json

#: Raw characters a password holds in a URL users write by hand (``/ ? #`` and blanks end the
#: authority, so a real URL percent-encodes them).
PASSWORD_CHARS = string.ascii_letters + string.digits + "!$%&()*+,;=:@-._~^[]{}|"
passwords = st.text(PASSWORD_CHARS, min_size=6, max_size=30).map(lambda p: "Zq" + p + "Zq")
names = st.text(string.ascii_lowercase + string.digits + "_-", min_size=1, max_size=12)
hosts = st.sampled_from(["127.0.0.1", "db.internal", "[::1]", "broker-1.example.test"])
schemes = st.sampled_from(
    ["postgresql", "postgres", "mysql+pymysql", "redis", "rediss", "amqp", "amqps", "https", "sqla"]
)
surroundings = st.text(string.printable.replace("@", "").replace(":", ""), max_size=20)


@given(schemes, st.one_of(st.just(""), names), passwords, hosts, surroundings, surroundings)
def test_no_url_password_survives(
    scheme: str, user: str, password: str, host: str, before: str, after: str
) -> None:
    """``scheme://user:password@host:port/path?query`` anywhere in a text: the password is
    gone, scheme, user and host stay."""
    url = f"{scheme}://{user}:{password}@{host}:5432/db?sslmode=require"
    shown = redact(f"{before} {url} {after}")
    assert password not in shown
    assert f"{scheme}://{user}:{MASK}@{host}:5432/db" in shown


@given(
    st.sampled_from(["password", "PASSWORD", "passwd", "pwd", "token", "api_key", "secret"]),
    st.text(string.ascii_letters + string.digits + "!$%*+-._~", min_size=6, max_size=30),
    st.booleans(),
)
def test_no_key_value_secret_survives(name: str, secret: str, quoted: bool) -> None:
    """``password=...`` in a libpq DSN and ``token=...`` in a query string, quoted or not."""
    secret = "Zq" + secret + "Zq"
    value = f"'{secret}'" if quoted else secret
    dsn = f"host=127.0.0.1 user=app {name}={value} dbname=test"
    query = f"https://api.example.test/v1?page=2&{name}={value}&x=1"
    for text in (dsn, query):
        shown = redact(text)
        assert secret not in shown
        assert "127.0.0.1" in shown or "api.example.test" in shown


@given(st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(st.text(string.ascii_letters + string.digits + " .,:;()[]{}-_'\"", max_size=200))
def test_texts_without_a_credential_shape_are_kept(text: str) -> None:
    """No ``=`` and no ``@``: nothing can be a credential, the text is unchanged."""
    assert redact(text) == text


def test_readable_parts_are_kept() -> None:
    assert redact("https://user@host/path") == "https://user@host/path"
    assert redact("ratio=1.2 monkey=3 keys=4") == "ratio=1.2 monkey=3 keys=4"
    assert redact("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"


def test_json_documents_are_redacted_keys_and_values() -> None:
    document = {
        "workload_options": {"db": "postgresql://app:hunter22@db/test"},
        "state": {"global m.DSN": "str 'mysql://u:hunter22@h/d'"},
        "list": ["password=hunter22", 3, None],
    }
    shown = redact_json(document)
    assert "hunter22" not in repr(shown)
    assert isinstance(shown, dict)
    assert shown["list"][1:] == [3, None]


def test_secret_named_environment_values_are_masked_wherever_they_appear() -> None:
    """By name: tokens, secrets, passwords, keys, auth; not the author's name or PWD."""
    environ = {
        "GITHUB_TOKEN": "ghp_abcdef123",
        "DB_PASSWORD": "hunter22",
        "STRIPE_API_KEY": "sk_live_999",
        "HTTP_AUTH": "Basic Zm9vOmJhcg==",
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "PWD": "/home/ada/project",
        "SHORT_TOKEN": "abc",
    }
    secrets = environment_secrets(environ)
    assert set(secrets) == {"ghp_abcdef123", "hunter22", "sk_live_999", "Basic Zm9vOmJhcg=="}
    shown = redact("token ghp_abcdef123 for Ada Lovelace in /home/ada/project", secrets)
    assert shown == "token *** for Ada Lovelace in /home/ada/project"
