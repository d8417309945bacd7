"""Names that say their value is a secret: variable, key, header, label, option and flag names.

`DB_PASSWORD`, `x-api-key`, `splunk-token`, `AccountKey`, `client_secret`, `sig`, `Authorization`,
`JSESSIONID` do. A name whose last word says the value only points at a secret or configures one
(`DB_PASSWORD_FILE`, `secretArn`, `token_type`, `password-stdin`) does not: its value is a path, an
ARN or a setting, which the diagnosis may need and which is not the secret itself.
"""
from __future__ import annotations

import re
from functools import lru_cache

MAX_NAME_CHARS = 128  # longer "names" are not names; nothing is decided on them
# camelCase, snake_case, kebab-case, dotted -> lowercase words ("AWSSecretAccessKey" -> aws, secret, access, key)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Anywhere in the joined words: dbpassword, authtoken, xapikey, sharedaccesskey, jsessionid.
_STRONG = re.compile(
    r"passw(?:or)?d|passphrase|secret|token|credential|authorization|signature|sessionid|cookie"
    r"|(?:api|access|private|account|shared|master|signing|encryption|auth|client|license|ssh|hmac)key"
    r"|requirepass|masterauth"
)
# Only as whole words: DB_PASS, pwd, REDIS_AUTH, sig (Azure SAS), creds, GITLAB_PAT.
_SECRET_WORDS = frozenset({"pass", "pwd", "pw", "auth", "sig", "creds", "pat"})
# A last word that makes the value a reference or a setting, not the secret.
_POINTER_WORDS = frozenset({
    "file", "path", "dir", "arn", "name", "id", "ids", "type", "ttl", "url", "uri", "endpoint", "length", "len",
    "size", "mode", "policy", "enabled", "required", "count", "version", "expiry", "expires", "expiration", "at",
    "stdin", "env", "ref", "source", "provider", "algorithm", "format", "kind", "rotation", "hint", "field",
    "location", "region", "exists", "prefix", "min", "max", "timeout", "set",
})


def _is_secret_name(name: str) -> bool:
    """True when a value under this name is a secret (see the module docstring)."""
    if not name or len(name) > MAX_NAME_CHARS:
        return False
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words:
        return False
    joined = "".join(words)
    strong = list(_STRONG.finditer(joined))
    if strong and strong[-1].end() == len(joined):  # ends with it: DB_PASSWORD, JSESSIONID, session_id
        return True
    if words[-1] in _POINTER_WORDS:
        return False
    return bool(strong) or any(w in _SECRET_WORDS for w in words)


# Evidence repeats its names thousands of times. Wrapped rather than decorated: mutation testing skips
# decorated functions, and this rule is what decides what is masked.
is_secret_name = lru_cache(maxsize=4096)(_is_secret_name)
