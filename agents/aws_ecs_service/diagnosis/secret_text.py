"""Secrets in free text, found in linear time: which spans of a string to mask, and the masking.

Each rule is a regular expression that cannot backtrack (possessive or bounded repetitions, a literal
or one-character anchor first, no nested quantifiers over overlapping classes) plus a few bounded
checks in Python per match, so a string of n characters costs O(n) whatever it holds. Rules report
spans of the original text; `apply_mask` merges them, leaves every ARN whole and writes MASK instead.

What the rules mask:
* private keys: from a `-----BEGIN ... PRIVATE KEY-----` marker to its END marker; without one, the rest
  of the BEGIN line and the body lines that follow (base64, PEM headers), and when the text ends inside
  the key `key_open` says so: the next log event of the stream goes on masking body lines up to the END
  marker (awslogs sends each line as an event). A line that is nothing but a long random base64 run (a
  key's body line seen alone) is masked too;
* URLs: the password of `scheme://user:password@host` (it may hold `@` and `/`), a token used as
  the user (`https://<token>@github.com`), Slack and Discord webhook paths;
* token forms: AWS access key ids and STS session tokens, JWTs, GitHub, GitLab, Slack, Stripe, npm,
  PyPI, Google, SendGrid, OpenAI/Anthropic, Vault and Docker Hub tokens;
* AWS secret access keys standing alone: 40 base64 characters with upper case, lower case and
  digits, never a prefixed 32-hex task id (`cluster/<task id>`, a log stream `prefix/container/<id>`);
* `Authorization:` credentials, `Bearer`/`Basic` credentials, `Cookie:`/`Set-Cookie:` headers;
* values of secret names (secret_names.py): `KEY=value`, `"key": "value"`, `key: value` (YAML,
  headers), `.netrc`'s `login u password p`, quoted values with spaces, connection strings;
* secrets on command lines (secret_args.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

from . import secret_args
from .secret_names import is_secret_name

MASK = "<redacted>"
Span = tuple[int, int]

# ---- private keys ------------------------------------------------------------------------------
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----")
_B64_LINE = re.compile(r"(?m)^[ \t]*+(?P<value>[A-Za-z0-9+/]{40,}+={0,2})[ \t]*+\r?$")


# A line of a key's body: base64, a PEM header (encrypted keys), or blank.
_BODY_LINE = re.compile(r"[ \t]*+(?:[A-Za-z0-9+/=]++|(?:Proc-Type|DEK-Info|Comment):[^\n]*+)?[ \t\r]*+")


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _key_lines(text: str, pos: int, spans: list[Span]) -> tuple[int, bool]:
    """Mask the lines of a key that is open at `pos` (a line start): body lines, up to its END marker.
    Returns where ordinary text resumes and whether the key is still open at the end of `text`."""
    while pos < len(text):
        line_end = _line_end(text, pos)
        end = _PEM_END.search(text, pos, line_end)
        if end is not None:
            spans.append((pos, end.start()))
            return end.end(), False
        if not _BODY_LINE.fullmatch(text, pos, line_end):  # not the key any more (its END was never logged)
            return pos, False
        spans.append((pos, line_end))
        pos = line_end + 1
    return len(text), True


def _private_key_spans(text: str, key_open: bool) -> tuple[list[Span], bool]:
    spans: list[Span] = []
    pos = 0
    if key_open:
        pos, key_open = _key_lines(text, 0, spans)
    end: re.Match[str] | None = None
    searched_to = -1  # `end` is the first END marker at or after searched_to (None: there is none)
    while not key_open and "-----BEGIN" in text:
        begin = _PEM_BEGIN.search(text, pos)
        if begin is None:
            break
        if searched_to < 0 or (end is not None and end.start() < begin.end()):
            end, searched_to = _PEM_END.search(text, begin.end()), begin.end()
        if end is not None:  # BEGIN ... END in this text: all of it between
            spans.append((begin.end(), end.start()))
            pos = end.end()
            continue
        line_end = _line_end(text, begin.end())  # the rest of the BEGIN line is the key's, then its body lines
        spans.append((begin.end(), line_end))
        pos, key_open = _key_lines(text, line_end + 1, spans)  # past the end of text: open
    return spans, key_open


_HEX16 = re.compile(r"[0-9a-fA-F]{16}")


def _random_base64(token: str) -> bool:
    """Upper case, lower case and digits, and no run of 16 hex digits (a task or container id with a prefix)."""
    return (any(c.isupper() for c in token) and any(c.islower() for c in token) and any(c.isdigit() for c in token)
            and not _HEX16.search(token))


def _base64_line_spans(text: str) -> list[Span]:
    if len(text) < 40:
        return []
    return [m.span("value") for m in _B64_LINE.finditer(text) if _random_base64(m.group("value"))]


# ---- URLs ------------------------------------------------------------------------------------
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}+://")
_URL_BODY = re.compile(r"[^\s\"'`]{1,512}+")
_PORT_THEN_PATH = re.compile(r"\d{1,5}(?:[/?#].*)?", re.S)
_WEBHOOK = re.compile(r"(?:hooks\.slack\.com/(?:services|workflows|triggers)|discord(?:app)?\.com/api/webhooks)/"
                      r"(?P<value>[\w/\-]{8,256}+)")


def _token_like(text: str) -> bool:
    """A user part that is a token, not a user name: long, letters and digits, URL-safe characters only."""
    return (len(text) >= 16 and any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
            and all(c.isalnum() or c in "_-.~%+" for c in text))


def _url_credential_spans(text: str) -> list[Span]:
    if "://" not in text:
        return []
    spans = []
    for m in _SCHEME.finditer(text):
        next_url = text.find("://", m.end())  # the body ends where the next URL begins
        body = _URL_BODY.match(text, m.end(), next_url if next_url >= 0 else len(text))
        if body is None:
            continue
        rest = body.group()
        at = rest.rfind("@")  # the last one: a password may hold "@" and "/"
        if at <= 0 or not (rest[at + 1:at + 2].isalnum() or rest[at + 1:at + 2] == "["):
            continue
        userinfo, base = rest[:at], m.end()
        colon = userinfo.find(":")
        if colon >= 0 and "/" not in userinfo[:colon] and not _PORT_THEN_PATH.fullmatch(userinfo[colon + 1:]):
            spans.append((base + colon + 1, base + at))
        elif _token_like(userinfo):  # (never holds a colon)
            spans.append((base, base + at))
    if "hooks.slack.com" in text or "discord" in text:
        spans += [m.span("value") for m in _WEBHOOK.finditer(text)]
    return spans


# ---- token forms -----------------------------------------------------------------------------
# One alternative per form, each starting with its literal prefix; the character before a match
# must not be part of a word (checked in Python, which keeps the regex's fast prefix scan).
_TOKEN_FORMS = re.compile("|".join((
    r"AKIA[A-Z0-9]{16}(?![A-Za-z0-9])", r"ASIA[A-Z0-9]{16}(?![A-Za-z0-9])",  # AWS access key ids
    r"ABIA[A-Z0-9]{16}(?![A-Za-z0-9])", r"ACCA[A-Z0-9]{16}(?![A-Za-z0-9])",
    r"IQoJb3JpZ2lu[A-Za-z0-9/+=]{16,}+", r"IQoDYXdz[A-Za-z0-9/+=]{16,}+",  # STS session tokens
    r"FwoGZXIvYXdz[A-Za-z0-9/+=]{16,}+", r"AQoDYXdz[A-Za-z0-9/+=]{16,}+", r"AgoJb3JpZ2lu[A-Za-z0-9/+=]{16,}+",
    r"gh[pousr]_[A-Za-z0-9]{30,}+", r"github_pat_\w{30,}+",  # GitHub
    r"glpat-[\w\-]{20,}+", r"gldt-[\w\-]{20,}+", r"glrt-[\w\-]{20,}+", r"glptt-[\w\-]{20,}+",  # GitLab
    r"glcbt-[\w\-]{20,}+", r"glsoat-[\w\-]{20,}+", r"GR1348941[\w\-]{20,}+",
    r"xox[abposre]-[A-Za-z0-9\-]{10,}+", r"xapp-[A-Za-z0-9\-]{10,}+",  # Slack
    r"sk_live_[A-Za-z0-9]{16,}+", r"sk_test_[A-Za-z0-9]{16,}+", r"rk_live_[A-Za-z0-9]{16,}+",  # Stripe
    r"rk_test_[A-Za-z0-9]{16,}+", r"whsec_[A-Za-z0-9+/=]{20,}+",
    r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", r"pypi-AgE[\w\-]{50,}+",  # npm, PyPI
    r"AIza[\w\-]{35}(?![\w\-])", r"ya29\.[\w\-]{20,}+", r"GOCSPX-[\w\-]{20,}+",  # Google
    r"SG\.[\w\-]{16,}+\.[\w\-]{16,}+",  # SendGrid
    r"sk-[\w\-]{32,}+",  # OpenAI (sk-, sk-proj-), Anthropic (sk-ant-)
    r"hvs\.[\w\-]{24,}+", r"hvb\.[\w\-]{24,}+", r"dckr_pat_[\w\-]{20,}+",  # Vault, Docker Hub
)))


# JSON Web Tokens: the look-behind keeps a run of "eyJeyJ..." from being scanned once per "eyJ"
_JWT = re.compile(r"(?<![\w\-])eyJ[\w\-]{5,}+\.[\w\-]{5,}+\.[\w\-]{5,}+")


def _word_before(text: str, start: int) -> bool:
    return start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-")


def _token_form_spans(text: str) -> list[Span]:
    spans = [m.span() for m in _TOKEN_FORMS.finditer(text) if not _word_before(text, m.start())]
    return spans + [m.span() for m in _JWT.finditer(text)] if "eyJ" in text else spans


# ---- AWS secret access keys standing alone ---------------------------------------------------
_B64_RUN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40,}+")
_JOINED_BEFORE = frozenset("_-.@")
_JOINED_AFTER = frozenset("_-.@=")


def _aws_secret_key_spans(text: str) -> list[Span]:
    spans = []
    for m in _B64_RUN.finditer(text):
        start, end = m.span()
        if end - start != 40 or (start and text[start - 1] in _JOINED_BEFORE) or \
                (end < len(text) and text[end] in _JOINED_AFTER):
            continue
        if _random_base64(m.group()) and m.group().count("/") < 4:  # four slashes: a path
            spans.append((start, end))
    return spans


# ---- headers -----------------------------------------------------------------------------------
_AUTH = re.compile(
    r"(?i)(?<![\w\-])(?:(?P<header>(?:proxy-)?authorization)[\"']?[ \t]{0,8}+[:=][ \t]{0,8}+[\"']?"
    r"(?:(?P<scheme>bearer|basic|token|digest|negotiate|ntlm|apikey|sso-key|aws4-hmac-sha256)[ \t]++)?"
    r"|(?P<bare>bearer|basic)[ \t]++)(?P<value>[^\s\"',;]{1,4096}+)")
_COOKIE = re.compile(r"(?i)(?<![\w\-])(?:set-)?cookie[\"']?[ \t]{0,8}+:[ \t]{0,8}+[\"']?(?P<value>[^\r\n\"']{1,4096}+)")


def _credential_like(value: str) -> bool:
    """A credential, not a word: has a digit or a symbol (and is not tiny), or is long."""
    value = value.rstrip(".,;:!?)")
    return len(value) >= 20 or (len(value) >= 6 and any(c.isdigit() or not c.isalnum() for c in value))


def _header_spans(text: str) -> list[Span]:
    spans = [m.span("value") for m in _AUTH.finditer(text)
             if (m.group("scheme") and m.group("header")) or _credential_like(m.group("value"))]
    spans += [m.span("value") for m in _COOKIE.finditer(text) if "=" in m.group("value")]
    return spans


# ---- values of secret names --------------------------------------------------------------------
# The key patterns end where the value begins; a value is read (once) only after a secret name.
_QUOTED_KEY = re.compile(r"(?P<q>\\?[\"'])(?P<key>[A-Za-z_$@][\w.\-$@ ]{0,127}+)(?P=q)[ \t]{0,8}+(?:=>|[:=])"
                         r"[ \t]{0,8}+")
_ASSIGNED = re.compile(r"(?<![\w.\-/:@$])(?P<key>[A-Za-z_][\w.\-]{0,127}+)[ \t]{0,8}+=>?(?!=)[ \t]{0,8}+")
_COLON = re.compile(r"(?<![\w.\-/:@$])(?P<key>[A-Za-z_][\w.\-]{0,127}+)[ \t]{0,8}+:(?![:/\\])[ \t]{0,8}+")
# {"name": "DB_PASSWORD", "value": "..."}: a task definition or config printed as JSON (or a Python repr)
_NAME_VALUE = re.compile(r"(?P<q>\\?[\"'])(?:name|Name|key|Key)(?P=q)[ \t]{0,8}+:[ \t]{0,8}+(?P=q)"
                         r"(?P<key>[\w.\-]{1,128}+)(?P=q)[ \t]{0,8}+,[ \t]{0,8}+(?P=q)(?:value|Value)(?P=q)"
                         r"[ \t]{0,8}+:[ \t]{0,8}+")
_NETRC = re.compile(r"(?<![\w\-])(?:login|user)[ \t]++\S{1,256}+[ \t]++(?:password|passwd)[ \t]++"
                    r"(?P<value>\S{1,1024}+)")
# A value: \"escaped quoted\" (JSON in a JSON string), "quoted" or 'quoted' (spaces allowed), or plain,
# up to white space, a quote, or a `&`/`;`/`,` that starts the next key=value (connection strings, queries).
_PLAIN_MAX = 1024
_VALUE = re.compile(r"\\\"(?:[^\"\\\n]|\\[^\"\n]){0,1024}+\\\"|\"(?:[^\"\\\n]|\\.){0,1024}+\"|'[^'\n]{0,1024}+'"
                    r"|(?:\\?[\"'])?(?:[^\s\"'&;,]|[&;,](?![\w.\-]{1,64}+=)){1," + str(_PLAIN_MAX) + "}+")
_REST_OF_WORD = re.compile(r"[^\s\"']*+")
_REST_OF_LINE = re.compile(r"[^\n]{0,1024}+")
_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def _yaml_key_position(text: str, start: int) -> bool:
    """The key starts a line (after indentation or a list dash) or follows `{`/`,` (a flow mapping)."""
    i, low = start, max(0, start - 32)
    while i > low and text[i - 1] in " \t-":
        i -= 1
    return i == 0 or text[i - 1] in "\n\r{,"


def _colon_value(key: re.Match[str], value: str) -> bool:
    """`key: value` is a key and its value, not prose ("registry auth: execution resource ..."): the name is
    written or placed like a key, or the value is quoted or looks like a credential."""
    name = key.group("key")
    return (any(c in name for c in "_-.") or name.isupper() or _yaml_key_position(key.string, key.start())
            or value.startswith(("\"", "'", "\\")) or _credential_like(value))


def _values_of(text: str, keys: Iterator[re.Match[str]], colon: bool = False) -> list[Span]:
    """The spans of the values that follow secret names (inside their quotes). A key inside a plain value already
    masked is skipped: its value ends where that one does, so reading it again would only cost time."""
    spans: list[Span] = []
    masked_until = -1
    for key in keys:
        name = key.group("key").strip()
        if key.end() < masked_until or not is_secret_name(name) or (colon and name.lower() in _HEADERS):
            continue
        value = _VALUE.match(text, key.end())
        if value is None or (colon and not _colon_value(key, value.group())):
            continue
        start, end = value.span()
        opening = 2 if text.startswith('\\"', start) else 1 if text[start] in "\"'" else 0
        closed = opening and text[end - opening:end] == text[start:start + opening]  # a lone quote: empty content
        start, end = start + opening, end - (opening if closed else 0)
        content = text[start:end]
        if not content or content.startswith((MASK, "arn:", "{", "[")):  # done, an ARN, or structure
            continue
        if opening and not closed:  # a quote cut before it closes (a truncated reason): the rest of the line
            end = _REST_OF_LINE.match(text, start).end()
        elif end - start >= _PLAIN_MAX:  # a plain value longer than the pattern reads: the rest of the word too
            end = _REST_OF_WORD.match(text, end).end()
        if not opening:
            masked_until = end
        spans.append((start, end))
    return spans


def _named_value_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    if '"' in text or "'" in text:
        spans += _values_of(text, _QUOTED_KEY.finditer(text)) + _values_of(text, _NAME_VALUE.finditer(text))
    if "=" in text:
        spans += _values_of(text, _ASSIGNED.finditer(text))
    if ":" in text:
        spans += _values_of(text, _COLON.finditer(text), colon=True)
    if "login" in text or "user" in text:
        spans += [m.span("value") for m in _NETRC.finditer(text)]
    return spans


# ---- masking -------------------------------------------------------------------------------------
_ARN = re.compile(r"(?<![\w\-])arn:aws[\w\-]*+:[^\s\"'<>()\[\]{},;?&]{1,2048}+")
_RULES: tuple[Callable[[str], list[Span]], ...] = (
    _base64_line_spans, _url_credential_spans, _token_form_spans, _aws_secret_key_spans, _header_spans,
    _named_value_spans, secret_args.text_spans,
)


def _outside(spans: list[Span], protected: list[Span]) -> list[Span]:
    """The parts of sorted, disjoint `spans` that no protected span covers."""
    kept: list[Span] = []
    i = 0
    for start, end in spans:
        while i < len(protected) and protected[i][1] <= start:
            i += 1
        j = i
        while start < end and j < len(protected) and protected[j][0] < end:
            if protected[j][0] > start:
                kept.append((start, protected[j][0]))
            start = max(start, protected[j][1])
            j += 1
        if start < end:
            kept.append((start, end))
    return kept


def apply_mask(text: str, spans: list[Span]) -> str:
    """`text` with every span replaced by MASK (overlapping spans merge; ARNs are never cut)."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    if merged and "arn:" in text:
        merged = _outside(merged, [m.span() for m in _ARN.finditer(text)])
    if not merged:
        return text
    parts, pos = [], 0
    for start, end in merged:
        parts += [text[pos:start], MASK]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _masked(text: str, key_open: bool) -> tuple[str, bool]:
    spans, key_open = _private_key_spans(text, key_open)
    for rule in _RULES:
        spans += rule(text)
    return apply_mask(text, spans), key_open


# Evidence repeats its short strings (statuses, ARNs, names, times) thousands of times.
_masked_short = lru_cache(maxsize=8192)(_masked)
_SHORT = 256


def clear_cache() -> None:
    """Forget the short strings masked and the names judged so far (a benchmark measures from a cold start)."""
    _masked_short.cache_clear()
    is_secret_name.cache_clear()


def mask_secrets(text: str, key_open: bool = False) -> tuple[str, bool]:
    """(text with its secrets masked, whether a private key is still open at its end).

    `key_open` says that a private key began in an earlier line of the same stream and has not ended."""
    return _masked_short(text, key_open) if len(text) <= _SHORT else _masked(text, key_open)
