"""Credentials out of every string the harness writes: one function, used at each place a
string leaves the harness (result.json, summaries, samples' error messages, logs, isolation
files, reports, the terminal, pytest's messages).

What counts as a credential:

- the password of a URL's user part: ``scheme://user:PASSWORD@host`` and ``scheme://:PASSWORD@``
  (Redis), wherever the URL sits in a longer text;
- ``password=``, ``passwd=``, ``pwd=`` in key-value DSNs (libpq, ODBC), quoted or not;
- the value of a query parameter or key-value pair that names a secret: ``token``,
  ``access_token``, ``api_key``, ``apikey``, ``secret``, ``client_secret``, ``signature``,
  ``sig``, ``password``, ``key``, ``auth``, ``credential(s)``.

- the value of any environment variable whose name says it is secret (``*TOKEN*``,
  ``*SECRET*``, ``*PASSWORD*``, ``*PASSWD*``, ``*_KEY``, ``*CREDENTIAL*``, ``AUTH`` as a
  word of the name; values of 6 characters or more), wherever it appears: what user code
  prints reaches the logs verbatim, in no shape a pattern could know.

Each is replaced by ``***``; everything else is kept, so a reader still sees which host, user
and database a run used. State snapshots never hold environment values at all
(``worker_soak.worker.state`` keeps names and salted hashes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

MASK: Final = "***"

#: A URL's authority: ``scheme://`` and what follows up to its path, query or the text's end.
_AUTHORITY: Final = re.compile(
    r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<authority>[^\s/?#'\"<>]*)"
)

_SECRET_NAMES: Final = (
    r"password|passwd|pwd|token|access_token|refresh_token|id_token|auth_token|api_key|apikey"
    r"|api-key|secret|client_secret|secret_key|signature|sig|key|auth|credentials?"
)

#: ``name=value`` in a query string or a key-value DSN; the value quoted or up to a
#: separator.
_PAIR: Final = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_\-])(?:" + _SECRET_NAMES + r")\s*=\s*)"
    r"(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,'\")\]}]+)",
    re.IGNORECASE,
)


#: Names of environment variables whose values are secrets.
_SECRET_VARIABLE: Final = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|_KEY$|^KEY$|CREDENTIAL|(?:^|_)AUTH(?:$|_)|_PWD$",
    re.IGNORECASE,
)
MIN_SECRET_CHARS: Final = 6


def environment_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The values of ``environ``'s secret-named variables, longest first."""
    values = {
        value
        for name, value in environ.items()
        if _SECRET_VARIABLE.search(name) and len(value) >= MIN_SECRET_CHARS
    }
    return tuple(sorted(values, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every credential it holds replaced by ``***``; ``secrets``: values to
    mask wherever they appear (``environment_secrets``)."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "=" not in text and "@" not in text:
        return text
    text = _AUTHORITY.sub(_masked_authority, text)
    return _PAIR.sub(lambda m: m["head"] + MASK if m["secret"] != MASK else m[0], text)


def _masked_authority(match: re.Match[str]) -> str:
    """``user:password@host`` as ``user:***@host``: the user part runs to the authority's last
    ``@``, so a password holding ``@`` or ``:`` is masked whole."""
    authority = match["authority"]
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return match[0]
    user = userinfo.partition(":")[0]
    return f"{match['scheme']}{user}:{MASK}@{host}"


def redact_json(value: object, secrets: tuple[str, ...] = ()) -> object:
    """A JSON-like value (dicts, lists, strings, numbers) with every string redacted: keys
    too, since state snapshots and figures use texts as keys."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {
            redact(k, secrets) if isinstance(k, str) else k: redact_json(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_json(item, secrets) for item in value]
    return value
