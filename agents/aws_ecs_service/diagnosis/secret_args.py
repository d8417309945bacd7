"""Secrets in command-line arguments: a container's command, entryPoint and health check, command lines in text.

A flag named like a secret takes a secret (`--password x`, `--token=x`, `--db-password "a b"`, `-storepass x`);
`-p x` does too unless x is a port, a pid, a port mapping, a path or a variable (`-p 8080`, `-p 80:80`,
`mkdir -p /data`, `-p $PW`); `-u`/`--user user:pw` keep the user (curl). By program: `mysql -pSECRET`
(attached), `redis-cli -a SECRET`, `ldapsearch -w SECRET`. Only spans are returned; the caller masks them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .secret_names import is_secret_name

Span = tuple[int, int]

_USER_FLAGS = frozenset({"-u", "--user", "--proxy-user"})
# What a flag's value is: all secret, user:password (mask after the colon), or a password unless it is a port.
_SECRET, _USERINFO, _PASSWORD_OR_PORT = "secret", "userinfo", "password-or-port"
_PASSWORD_FLAG = re.compile(r"\w*pass(?:word|wd)?|pass(?:in|out)", re.I)  # -storepass, -keypass, -passin
_NOT_A_PASSWORD = re.compile(r"[\d.:\[\]\-]+(?:/(?:tcp|udp|sctp))?|[/.~$].*", re.S)
_MYSQL = re.compile(r"\b(?:mysql|mariadb)")
# A quoted or plain argument; a plain one never starts with "-" (that is the next flag, not a value).
_VALUE = r"""(?:"[^"\n]{0,1024}+"|'[^'\n]{0,1024}+'|(?!-)\S{1,1024}+)"""
_FLAG = re.compile(r"(?<!\S)(?P<flag>--?[A-Za-z][\w\-]{0,63}+)(?:=(?P<eq>" + _VALUE + r")|[ \t]++(?P<next>"
                   + _VALUE + r"))?")
_ATTACHED = re.compile(r"(?<!\S)-(?P<short>[pu])(?P<value>[^\s\-=]\S{0,1023}+)")


@dataclass(frozen=True)
class _Programs:
    """The programs a command line names, where a short flag means a password."""
    mysql: bool
    redis: bool
    ldap: bool

    @classmethod
    def named_in(cls, text: str) -> _Programs:
        return cls(mysql=bool(_MYSQL.search(text)), redis="redis-cli" in text, ldap="ldap" in text)


def _flag_kind(flag: str, programs: _Programs) -> str | None:
    """_SECRET, _USERINFO, _PASSWORD_OR_PORT (-p) or None (not a secret flag)."""
    if flag in _USER_FLAGS:
        return _USERINFO
    if flag == "-p":
        return _PASSWORD_OR_PORT
    if (flag == "-a" and programs.redis) or (flag == "-w" and programs.ldap):
        return _SECRET
    name = flag.lstrip("-")
    if is_secret_name(name) or _PASSWORD_FLAG.fullmatch(name):
        return _SECRET
    return None


def _secret_part(kind: str, value: str) -> Span | None:
    """The part of a flag's value that is secret, as a span of `value`."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = _secret_part(kind, value[1:-1])
        return (inner[0] + 1, inner[1] + 1) if inner else None
    if not value:
        return None
    if kind == _USERINFO:
        colon = value.find(":")
        return (colon + 1, len(value)) if colon >= 0 else None
    if kind == _PASSWORD_OR_PORT and _NOT_A_PASSWORD.fullmatch(value):
        return None
    return 0, len(value)


def _attached_part(short: str, value: str, programs: _Programs) -> Span | None:
    """`-pSECRET` (mysql family) and `-uuser:pw`: the secret part of `value` (what follows the flag letter)."""
    if short == "p":
        return (0, len(value)) if programs.mysql else None
    return _secret_part(_USERINFO, value)


def _shifted(part: Span | None, offset: int) -> Span | None:
    return (part[0] + offset, part[1] + offset) if part else None


def argv_spans(args: Sequence[object]) -> list[tuple[int, Span]]:
    """(index, span within that argument) of every secret in an argv array such as a container's command."""
    programs = _Programs.named_in(" ".join(a for a in args if isinstance(a, str)))
    found: list[tuple[int, Span]] = []
    pending: str | None = None
    for i, arg in enumerate(args):
        if not isinstance(arg, str):
            pending = None
            continue
        is_flag = len(arg) > 1 and arg[0] == "-"
        part = _secret_part(pending, arg) if pending and not is_flag else None
        if is_flag and arg[1] in "pu" and len(arg) > 2 and arg[2] not in "-=":
            part = _shifted(_attached_part(arg[1], arg[2:], programs), 2)
        if is_flag and part is None and "=" in arg:
            flag, _, value = arg.partition("=")
            kind = _flag_kind(flag, programs)
            part = _shifted(_secret_part(kind, value), len(flag) + 1) if kind else None
        # a flag holding its value (-pSECRET, -uuser:pw, --token=x) takes no next argument
        pending = _flag_kind(arg, programs) if is_flag and part is None and "=" not in arg else None
        if part:
            found.append((i, part))
    return found


def text_spans(text: str) -> list[Span]:
    """Spans of the secrets that command-line flags in free text carry (a health check, a logged command)."""
    if "-" not in text:
        return []
    programs = _Programs.named_in(text)
    spans: list[Span] = []
    for m in _FLAG.finditer(text):
        if programs.mysql and m.group("flag").startswith("-p") and m.group("flag") != "-p":
            continue  # -pSECRET: the password is attached (below), what follows is not it
        group = "eq" if m.group("eq") is not None else "next" if m.group("next") is not None else None
        kind = group and _flag_kind(m.group("flag"), programs)
        if kind:
            part = _shifted(_secret_part(kind, m.group(group)), m.start(group))
            if part:
                spans.append(part)
    for m in _ATTACHED.finditer(text):
        part = _shifted(_attached_part(m.group("short"), m.group("value"), programs), m.start("value"))
        if part:
            spans.append(part)
    return spans
