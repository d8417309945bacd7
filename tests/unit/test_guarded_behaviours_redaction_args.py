"""Secrets on command lines: a container's command, entryPoint and health check (argv arrays) and command lines
quoted in free text. Each case states the form it protects; the expected output is exact, so the secret and only
the secret is masked (flags, users, ports and paths stay readable for the diagnosis)."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis.redaction import MASK, redact_evidence, redact_text

M = MASK

# (what is protected, argv, argv after redaction)
ARGV_CASES = [
    ("a secret-named flag's next argument", ["app", "--password", "hunter2"], ["app", "--password", M]),
    ("a secret-named flag's =value", ["app", "--api-key=k3y-value"], ["app", f"--api-key={M}"]),
    ("a two-letter secret flag (--pw)", ["app", "--pw", "hunter2"], ["app", "--pw", M]),
    ("a password flag by its suffix (keytool -storepass)", ["keytool", "-storepass", "changeit9"],
     ["keytool", "-storepass", M]),
    ("a password flag by its suffix, =value (openssl -passin=)", ["openssl", "-passin=pass:abc"],
     ["openssl", f"-passin={M}"]),
    ("a double-quoted value keeps its quotes", ["app", '--db-password="a b c"'], ["app", f'--db-password="{M}"']),
    ("a single-quoted next argument keeps its quotes", ["app", "--token", "'t0k en'"], ["app", "--token", f"'{M}'"]),
    ("an unterminated quote is masked whole", ["app", "--password", '"unterminated'], ["app", "--password", M]),
    ("an empty quoted password is left as it is", ["app", "--password", '""'], ["app", "--password", '""']),
    ("a value holding = is masked whole after the first =", ["app", "--token=YWJj=="], ["app", f"--token={M}"]),
    ("curl -u keeps the user and masks the password", ["curl", "-u", "admin:pw123", "http://h"],
     ["curl", "-u", f"admin:{M}", "http://h"]),
    ("curl -u masks from the first colon (a password may hold colons)", ["curl", "-u", "admin:pa:ss"],
     ["curl", "-u", f"admin:{M}"]),
    ("--user=user:pw", ["curl", "--user=admin:pw123"], ["curl", f"--user=admin:{M}"]),
    ("-uuser:pw attached", ["curl", "-uadmin:pw123"], ["curl", f"-uadmin:{M}"]),
    ("an empty user with a password", ["curl", "-u", ":pw123"], ["curl", "-u", f":{M}"]),
    ("-u with a user only is kept", ["curl", "-u", "admin", "-u", "admin:"], ["curl", "-u", "admin", "-u", "admin:"]),
    ("a quoted -u value keeps user and quotes", ["curl", "-u", '"admin:pw 1"'], ["curl", "-u", f'"admin:{M}"']),
    ("-p with a password", ["app", "-p", "s3cret"], ["app", "-p", M]),
    ("-p with a port, a mapping, a path or a variable is kept",
     ["docker", "-p", "8080", "-p", "80:80/tcp", "-p", "/data", "-p", "$PW"],
     ["docker", "-p", "8080", "-p", "80:80/tcp", "-p", "/data", "-p", "$PW"]),
    ("-p=password", ["app", "-p=s3cret"], ["app", f"-p={M}"]),
    ("mysql -pSECRET attached", ["mysql", "-uroot", "-pS3cretPw", "orders"], ["mysql", "-uroot", f"-p{M}", "orders"]),
    ("flags after mysql -pSECRET are still read", ["mysql", "-pS3cretPw", "orders", "--ssl-password", "k3y"],
     ["mysql", f"-p{M}", "orders", "--ssl-password", M]),
    ("mysql named after another word still counts", ["exec", "mysql", "-pS3cretPw"], ["exec", "mysql", f"-p{M}"]),
    ("mysql -p with a one-character password", ["mysql", "-pX"], ["mysql", f"-p{M}"]),
    ("mysql -p=password keeps the =", ["mariadb", "-p=S3cretPw"], ["mariadb", f"-p={M}"]),
    ("-pv is a flag, not a password, outside mysql", ["mkdir", "-pv", "/data"], ["mkdir", "-pv", "/data"]),
    ("redis-cli -a SECRET", ["redis-cli", "-h", "cache", "-a", "r3disPw"], ["redis-cli", "-h", "cache", "-a", M]),
    ("-a outside redis-cli is kept", ["ls", "-a", "all"], ["ls", "-a", "all"]),
    ("ldapsearch -w SECRET", ["ldapsearch", "-D", "cn=admin", "-w", "ldapPw1"], ["ldapsearch", "-D", "cn=admin", "-w", M]),
    ("-w outside ldap is kept", ["wc", "-w", "file"], ["wc", "-w", "file"]),
    ("a flag's =value does not make the next argument secret", ["app", "--password=x1", "serve"],
     ["app", f"--password={M}", "serve"]),
    ("a secret flag with an empty =value takes no next argument", ["app", "--password=", "serve"],
     ["app", "--password=", "serve"]),
    ("a word named like a secret is not a flag", ["print", "token", "visible"], ["print", "token", "visible"]),
    ("a flag after a secret flag is not its value", ["app", "--password", "--verbose"], ["app", "--password", "--verbose"]),
    ("a non-string argument ends the flag, later flags still count", ["app", "--password", 5, "--token", "abc123"],
     ["app", "--password", 5, "--token", M]),
    ("a lone dash (stdin) is kept", ["cat", "-", "--token", "abc123"], ["cat", "-", "--token", M]),
    ("JVM -X options are not user:password", ["java", "-Xlog:gc*:file=/tmp/gc.log", "-Xmx512m"],
     ["java", "-Xlog:gc*:file=/tmp/gc.log", "-Xmx512m"]),
    ("an unquoted =value holding spaces (one argv element) is masked whole",
     ["app", "--db-password=correct horse battery"], ["app", f"--db-password={M}"]),
    ("a value holding = and spaces is masked from the first =", ["app", "--token=path=a b"], ["app", f"--token={M}"]),
    ("redis-cli -a=SECRET holding a space", ["redis-cli", "-a=r3dis pw"], ["redis-cli", f"-a={M}"]),
    ("a password starting and ending with the same letter is masked whole", ["app", "--password", "XsecretX"],
     ["app", "--password", M]),
    ("curl -u with a one-character password", ["curl", "-u", "admin:x"], ["curl", "-u", f"admin:{M}"]),
    ("ordinary flags are kept", ["app", "--port", "8080", "--log-level=debug"],
     ["app", "--port", "8080", "--log-level=debug"]),
]


def _container_out(container: dict) -> dict:
    evidence = {"task_definitions": {"arn:aws:ecs:us-east-1:123456789012:task-definition/api:7": {
        "containerDefinitions": [{"name": "api", **container}]}}, "tasks": {"running": [], "stopped": []}}
    return redact_evidence(evidence)["task_definitions"]["arn:aws:ecs:us-east-1:123456789012:task-definition/api:7"][
        "containerDefinitions"][0]


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in ARGV_CASES], ids=[c[0] for c in ARGV_CASES])
def test_secret_in_container_argv_is_masked_exactly(argv, expected):
    out = _container_out({"command": list(argv), "entryPoint": list(argv), "healthCheck": {"command": list(argv)}})
    assert out["command"] == expected
    assert out["entryPoint"] == expected
    assert out["healthCheck"]["command"] == expected


# An argv element may hold unquoted spaces; joined into text, those cases say something else.
TEXT_CASES = [c for c in ARGV_CASES if all(isinstance(a, str) and (" " not in a or a[-1] in "\"'") for a in c[1])]


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES])
def test_secret_in_a_command_line_quoted_in_text_is_masked_exactly(argv, expected):
    assert redact_text(f"health check failed: {' '.join(argv)}") == f"health check failed: {' '.join(expected)}"
