"""Secret forms in free text, masked exactly: the secret and nothing else becomes MASK, so what the diagnosis
reads around it (hosts, users, ports, ARNs, task ids, image refs, stream names) stays. Each case names the form
it protects; the expected text is the whole output."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.diagnosis.redaction import MASK, redact_lines, redact_text

M = MASK
AWS_SECRET = "Nq7vX2pLr9sT4wYb8zKc3mFh6jDg1aQe5uRi0oPl"
TASK_ID = "0123456789abcdef0123456789abcdef"
TASK_ARN = f"arn:aws:ecs:us-east-1:123456789012:task/prod/{TASK_ID}"

URL_CASES = [
    ("URL password", "connect postgres://app:S3cr3tPw@db.internal:5432/app failed",
     f"connect postgres://app:{M}@db.internal:5432/app failed"),
    ("URL password holding @", "postgres://orders:p@ss@word1@db.prod:5432/orders",
     f"postgres://orders:{M}@db.prod:5432/orders"),
    ("URL password holding /", "mongodb://admin:ab/cd+ef/gh9@mongo-0:27017/admin",
     f"mongodb://admin:{M}@mongo-0:27017/admin"),
    ("URL password before an IPv6 host", "redis://default:r3dis@[::1]:6379", f"redis://default:{M}@[::1]:6379"),
    ("URL with an empty password", "ftp://anon:@files.example.com/x", "ftp://anon:@files.example.com/x"),
    ("token as the URL user", "git clone https://ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git",
     f"git clone https://{M}@github.com/o/r.git"),
    ("a user name in a URL is kept", "https://deploy-bot@github.com/o/r.git", "https://deploy-bot@github.com/o/r.git"),
    ("a short user+digits in a URL is kept", "ssh://git2@host.example/x", "ssh://git2@host.example/x"),
    ("host:port before @ in a path is not a password", "http://proxy:8080/a@b.c", "http://proxy:8080/a@b.c"),
    ("an @ in the path is not userinfo", "https://example.com/users/@me", "https://example.com/users/@me"),
    ("a colon after a slash is not a password", "https://h/a:b@c.d", "https://h/a:b@c.d"),
    ("@ followed by punctuation is not a host", "http://u:p4ss@!x", "http://u:p4ss@!x"),
    ("two URLs: each judged alone", "from http://a.example/x to postgres://u:pw9@db:5432/d",
     f"from http://a.example/x to postgres://u:{M}@db:5432/d"),
    ("the scheme is a whole word", "xhttp://u:pw9@h", f"xhttp://u:{M}@h"),
    ("a URL body ends at the next URL, not the last one", "http://u:pw9@a/?r=ftp://h@b&s=ftp://c",
     f"http://u:{M}@a/?r=ftp://h@b&s=ftp://c"),
    ("a scheme with no body does not stop later URLs", "see http:// then postgres://u:pw9@db",
     f"see http:// then postgres://u:{M}@db"),
    ("URL password before an IP address host", "mysql://root:pw9@10.0.0.5:3306/db", f"mysql://root:{M}@10.0.0.5:3306/db"),
    ("URL password holding :", "redis://u:pa:ss@h:6379", f"redis://u:{M}@h:6379"),
    ("URL password ending in digits is not a port", "http://u:a1234@h", f"http://u:{M}@h"),
    ("URL password and a webhook in one text", "https://u:pw9@h then https://hooks.slack.com/services/T0/B0/XXXXXXXX",
     f"https://u:{M}@h then https://hooks.slack.com/services/{M}"),
    ("Slack webhook path", "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
     f"POST https://hooks.slack.com/services/{M}"),
    ("Discord webhook path", "https://discord.com/api/webhooks/123456789/abcDEF-ghi_jkl",
     f"https://discord.com/api/webhooks/{M}"),
]

TOKEN_CASES = [
    ("AWS access key id", "key AKIAIOSFODNN7EXAMPLE used", f"key {M} used"),
    ("AWS access key id inside a word is not one", "XAKIAIOSFODNN7EXAMPLE", "XAKIAIOSFODNN7EXAMPLE"),
    ("AWS access key id after an underscore is not one", "id_AKIAIOSFODNN7EXAMPLE", "id_AKIAIOSFODNN7EXAMPLE"),
    ("AWS access key id after a dash is not one", "id-AKIAIOSFODNN7EXAMPLE", "id-AKIAIOSFODNN7EXAMPLE"),
    ("AWS access key id at the start", "AKIAIOSFODNN7EXAMPLE", M),
    ("AWS secret access key alone", f"secret {AWS_SECRET} here", f"secret {M} here"),
    ("AWS secret access key at the start and end", AWS_SECRET, M),
    ("GitHub token", "auth ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", f"auth {M} ok"),
    ("Stripe key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", M),
    ("JWT", "session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4fw rejected", f"session {M} rejected"),
]

NOT_SECRET_KEY_CASES = [
    ("40 characters joined by a dash are part of a name", f"svc-{AWS_SECRET}", f"svc-{AWS_SECRET}"),
    ("40 characters joined by a dot are part of a name", f"{AWS_SECRET}.log", f"{AWS_SECRET}.log"),
    ("40 characters followed by = are base64 padding", f"got {AWS_SECRET}= back", f"got {AWS_SECRET}= back"),
    ("a joined run does not stop the search for a key after it", f"svc-{AWS_SECRET} then {AWS_SECRET[::-1]}",
     f"svc-{AWS_SECRET} then {M}"),
    ("41 characters are not a secret access key", f"got {AWS_SECRET}x back", f"got {AWS_SECRET}x back"),
    ("39 characters are not a secret access key", AWS_SECRET[:39], AWS_SECRET[:39]),
    ("40 characters with four slashes are a path", "see ab/cd/ef/gh/Nq7vX2pLr9sT4wYb8zKc3mFh6jDg here",
     "see ab/cd/ef/gh/Nq7vX2pLr9sT4wYb8zKc3mFh6jDg here"),
    ("40 letters without digits are a word", "abcdefghijABCDEFGHIJabcdefghijABCDEFGHIJ",
     "abcdefghijABCDEFGHIJabcdefghijABCDEFGHIJ"),
    ("40 characters without upper case", "nq7vx2plr9st4wyb8zkc3mfh6jdg1aqe5uri0opl",
     "nq7vx2plr9st4wyb8zkc3mfh6jdg1aqe5uri0opl"),
    ("40 characters without lower case", "NQ7VX2PLR9ST4WYB8ZKC3MFH6JDG1AQE5URI0OPL",
     "NQ7VX2PLR9ST4WYB8ZKC3MFH6JDG1AQE5URI0OPL"),
    ("a cluster-prefixed task id", f"Orders1/{TASK_ID}", f"Orders1/{TASK_ID}"),
]

HEADER_CASES = [
    ("Authorization header with a scheme, whatever the credential", "Authorization: Bearer abcdef",
     f"Authorization: Bearer {M}"),
    ("a bare Bearer word credential is prose", "Bearer abcdef", "Bearer abcdef"),
    ("Authorization header without a scheme", "authorization=s3cr3t-value", f"authorization={M}"),
    ("Authorization word in prose is kept", "Authorization: required", "Authorization: required"),
    ("bare Bearer credential", "sent Bearer eyJ0eXAi.abc123", f"sent Bearer {M}"),
    ("bare Bearer word in prose is kept", "bearer token missing", "bearer token missing"),
    ("a long credential without digits", "Basic abcdefghijklmnopqrstuvwxyz", f"Basic {M}"),
    ("a six-character credential with a digit", "Basic abcde1", f"Basic {M}"),
    ("a five-character credential is a word", "Basic abcd1", "Basic abcd1"),
    ("trailing punctuation does not make a word a credential", "bearer tokens.", "bearer tokens."),
    ("Cookie header", "Cookie: sid=abc123; theme=dark", f"Cookie: {M}"),
    ("Set-Cookie header", "set-cookie: sid=abc123; Path=/", f"set-cookie: {M}"),
    ("a cookie header without a value pair is kept", "Cookie: none", "Cookie: none"),
]

NAMED_VALUE_CASES = [
    ("KEY=value", "DB_PASSWORD=hunter2 started", f"DB_PASSWORD={M} started"),
    ("key => value", "password => hunter2", f"password => {M}"),
    ("a comparison is not an assignment", "password==hunter2", "password==hunter2"),
    ("key: value (YAML)", "  password: hunter2", f"  password: {M}"),
    ("JSON key and quoted value", '{"password": "hunter two"}', f'{{"password": "{M}"}}'),
    ("single-quoted value", "password='hunter two'", f"password='{M}'"),
    ("escaped quotes in a JSON string", '"{\\"token\\": \\"abc123\\"}"', f'"{{\\"token\\": \\"{M}\\"}}"'),
    ("an unterminated quote masks the rest of the line", 'password="hunter two\nnext line',
     f'password="{M}\nnext line'),
    ("an empty value is kept", 'password="" ok', 'password="" ok'),
    ("an ARN value is kept", "secret=arn:aws:secretsmanager:us-east-1:1:secret:db",
     "secret=arn:aws:secretsmanager:us-east-1:1:secret:db"),
    ("a structure value is kept", 'token={"a": 1}', 'token={"a": 1}'),
    ("a masked value is not masked again", f"password={M}", f"password={M}"),
    ("connection string pairs", "Server=db;User Id=sa;Password=S3cret;Encrypt=true",
     f"Server=db;User Id=sa;Password={M};Encrypt=true"),
    ("query string pairs", "/cb?state=x&token=abc123&next=/", f"/cb?state=x&token={M}&next=/"),
    ("a value may hold & not followed by a key", "password=a&b done", f"password={M} done"),
    ("name/value pair printed as JSON", '{"name": "DB_PASSWORD", "value": "hunter2"}',
     f'{{"name": "DB_PASSWORD", "value": "{M}"}}'),
    ("name/value pair with another name is kept", '{"name": "MODE", "value": "blue"}',
     '{"name": "MODE", "value": "blue"}'),
    (".netrc", "machine h login deploy password s3cr3t", f"machine h login deploy password {M}"),
    ("a pointer name keeps its value", "DB_PASSWORD_FILE=/run/secrets/db", "DB_PASSWORD_FILE=/run/secrets/db"),
    ("a header name as a YAML key is left to the header rule", "authorization: required", "authorization: required"),
]

COLON_CASES = [
    ("an upper-case name is a key", "the TOKEN: abc", f"the TOKEN: {M}"),
    ("a dotted name is a key", "the db.password: abc", f"the db.password: {M}"),
    ("a dashed name is a key", "sent x-api-key: abc", f"sent x-api-key: {M}"),
    ("an underscored name is a key", "the api_token: abc", f"the api_token: {M}"),
    ("a quoted value after a name in prose is a value", 'login failed, the password: "Summer"',
     f'login failed, the password: "{M}"'),
    ("a single-quoted value after a name in prose is a value", "the password: 'abc'", f"the password: '{M}'"),
    ("an escaped quoted value after a name in prose is a value", 'the password: \\"a\\"',
     f'the password: \\"{M}\\"'),
    ("a short double-quoted value after a name in prose is a value", 'the password: "abc"', f'the password: "{M}"'),
    ("a name with a capital inside, in prose, is prose", "the XToken: abc", "the XToken: abc"),
    ("a name in prose does not stop the names after it", "the password: expired\napi_key: abc",
     f"the password: expired\napi_key: {M}"),
    ("a name with no value does not stop the names after it", "password=\ntoken=abc", f"password=\ntoken={M}"),
    ("a name at a line start is a key", "note\npassword: abc", f"note\npassword: {M}"),
    ("a name after a list dash is a key", "- password: abc", f"- password: {M}"),
    ("a name in a flow mapping is a key", "{user: u, password: abc }", f"{{user: u, password: {M} }}"),
    ("a name in prose with a word value is prose", "the password: expired", "the password: expired"),
    ("a name in prose with a credential value is a key", "the password: abc123", f"the password: {M}"),
    ("a single upper-case letter is not a key name", "Q: what", "Q: what"),
    ("a name far after indentation", " " * 40 + "password: abc", " " * 40 + "password: abc"),
]

KEPT = [
    ("task ARN", f"task {TASK_ARN} stopped"),
    ("task id", f"stream ecs/api/{TASK_ID}"),
    ("image digest", "image 123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "a" * 64),
    ("secret ARN after a secret name", "DB_PASSWORD=arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
    ("secret ARN inside a URL-like text", "arn:aws:ssm:us-east-1:123456789012:parameter/app/token=x"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in URL_CASES], ids=[c[0] for c in URL_CASES])
def test_url_credentials_are_masked_exactly(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in TOKEN_CASES + NOT_SECRET_KEY_CASES],
                         ids=[c[0] for c in TOKEN_CASES + NOT_SECRET_KEY_CASES])
def test_token_forms_are_masked_and_look_alikes_kept(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in HEADER_CASES], ids=[c[0] for c in HEADER_CASES])
def test_auth_and_cookie_headers_are_masked_and_prose_kept(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in NAMED_VALUE_CASES + COLON_CASES],
                         ids=[c[0] for c in NAMED_VALUE_CASES + COLON_CASES])
def test_values_of_secret_names_are_masked_exactly(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [c[1] for c in KEPT], ids=[c[0] for c in KEPT])
def test_identifiers_are_never_touched(text):
    assert redact_text(text) == text


B, E = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"
PEM_CASES = [
    ("a whole key: everything between its markers",
     "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEab\ncd==\n-----END RSA PRIVATE KEY----- done",
     f"key: -----BEGIN RSA PRIVATE KEY-----{M}-----END RSA PRIVATE KEY----- done"),
    ("two keys in one text, the text between kept", f"A {B}x1{E} mid {B}y2{E} end", f"A {B}{M}{E} mid {B}{M}{E} end"),
    ("an END before any BEGIN is not a key", f"{E} then {B}\nbody\n{E} ok", f"{E} then {B}{M}{E} ok"),
    ("a BEGIN inside a key", f"{B}\n{B}\nzz\n{E}", f"{B}{M}{E}"),
    ("an encrypted key's PEM headers", f"{B}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,ABC\n\nMIIE\n{E}", f"{B}{M}{E}"),
    ("an OpenSSH key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----",
     f"-----BEGIN OPENSSH PRIVATE KEY-----{M}-----END OPENSSH PRIVATE KEY-----"),
    ("a PGP key block", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOY\n-----END PGP PRIVATE KEY BLOCK-----",
     f"-----BEGIN PGP PRIVATE KEY BLOCK-----{M}-----END PGP PRIVATE KEY BLOCK-----"),
    ("CRLF lines", f"{B}\r\nMIIE\r\n{E}", f"{B}{M}{E}"),
    ("no END: the BEGIN line's rest and the body lines, then the traceback is kept",
     f"{B} MIIEab\nfG2hJ8\nTraceback: x", f"{B}{M}\n{M}\nTraceback: x"),
    ("no END: blank lines are body lines, prose ends the key", f"{B} a\nb\n\nc d\ne", f"{B}{M}\n{M}\n\nc d\ne"),
    ("a BEGIN line ending the text", f"x {B}", f"x {B}"),
    ("no END, a bare BEGIN line: its body lines", f"{B}\nfG2hJ8\nTraceback: x", f"{B}\n{M}\nTraceback: x"),
    ("no END, a BEGIN on a later line", "ok\nloading -----BEGIN PRIVATE KEY----- abc",
     f"ok\nloading -----BEGIN PRIVATE KEY-----{M}"),
    ("a BEGIN line with key text ending the text", f"{B}abc", f"{B}{M}"),
    ("a Cookie line running into a key is one mask", f"Cookie: sid=abc123 {B}\nMIIE\n{E}", f"Cookie: {M}{E}"),
    ("a long random base64 line alone", "  MIIEpAIBAAKCAQEA7bq9Xy0Zc3JpvW6k1lZqkQ8bB1xv0s2Hk5mL  ", f"  {M}  "),
    ("a 40-character body line with slashes", "ab/cd/ef/gh/Nq7vX2pLr9sT4wYb8zKc3mFh6jDg", M),
    ("a line of 32-hex ids is not a key body", TASK_ID + "ABCDEFGHij", TASK_ID + "ABCDEFGHij"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in PEM_CASES], ids=[c[0] for c in PEM_CASES])
def test_private_keys_are_masked_between_their_markers_and_nothing_after(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(("lines", "expected"), [
    ([B, "abcd-----END PRIVATE KEY----- ok"], [B, f"{M}-----END PRIVATE KEY----- ok"]),   # END inside a body line
    (["x " + B, "zz", "Yw==", "done here"], ["x " + B, M, M, "done here"]),             # BEGIN ends a line
    ([B, "Yw==\n!ready"], [B, f"{M}\n!ready"]),                      # a line not base64 ends it, from its first character
    ([B, f"Yw==\nTraceback (most recent call last):\n{E}"],                               # prose ends the key
     [B, f"{M}\nTraceback (most recent call last):\n{E}"]),
    ([f"{B}abc", "Yw==", E, "Yw=="], [f"{B}{M}", M, E, "Yw=="]),                         # after END: plain text
    ([B, "", "Yw==", "Traceback (most recent call last):", "Yw=="], [B, "", M, "Traceback (most recent call last):", "Yw=="]),
])
def test_a_key_open_at_the_end_of_a_line_goes_on_to_its_end_marker_in_later_lines(lines, expected):
    assert redact_lines(lines) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Cookie: a=arn:aws:iam::1:role/x; b=arn:aws:iam::1:role/y; c=z9",
     f"Cookie: {M}arn:aws:iam::1:role/x{M}arn:aws:iam::1:role/y{M}"),
    ("arn:aws:iam::1:role/a then Cookie: a=b9; c=arn:aws:iam::1:role/x", f"arn:aws:iam::1:role/a then Cookie: {M}arn:aws:iam::1:role/x"),
    ("arn:aws:iam::1:role/a arn:aws:iam::1:role/b then Cookie: a=b9",
     f"arn:aws:iam::1:role/a arn:aws:iam::1:role/b then Cookie: {M}"),
    ("Cookie: c=arn:aws:iam::1:role/x", f"Cookie: {M}arn:aws:iam::1:role/x"),
    ("Cookie: arn:aws:iam::1:role/x=1", "Cookie: arn:aws:iam::1:role/x=1"),
    (f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{AWS_SECRET}",
     f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{AWS_SECRET}"),
    (f"{AWS_SECRET} arn:aws:iam::1:role/x {AWS_SECRET}", f"{M} arn:aws:iam::1:role/x {M}"),
])
def test_an_arn_is_never_cut_even_inside_a_masked_value(text, expected):
    assert redact_text(text) == expected


# Where each rule's bounds lie: one case each side.
BOUNDARY_CASES = [
    ("a credential of 20 letters", "Basic abcdefghijklmnopqrst", f"Basic {M}"),
    ("19 letters are a word", "Basic abcdefghijklmnopqrs", "Basic abcdefghijklmnopqrs"),
    ("six characters with a symbol are a credential", "Basic abc-de", f"Basic {M}"),
    ("a closing parenthesis does not count as a symbol", "Basic abcd1)", "Basic abcd1)"),
    ("a 16-character token as the URL user", "https://abcdefghijklmno1@host/x", f"https://{M}@host/x"),
    ("15 characters are a user name", "https://abcdefghijklmn1@host/x", "https://abcdefghijklmn1@host/x"),
    ("a user of letters only is a name", "https://abcdefghijklmnopqrst@host/x", "https://abcdefghijklmnopqrst@host/x"),
    ("a user of digits only is a number", "https://1234567890123456@host/x", "https://1234567890123456@host/x"),
    ("a user with other symbols is not a token", "https://abc!defghijklmn12@host/x", "https://abc!defghijklmn12@host/x"),
    ("a token user may hold . ~ % +", "https://abc.def~ghi%jk+l12@h/x", f"https://{M}@h/x"),
    ("an empty userinfo", "http://@host/x", "http://@host/x"),
    ("a later URL's @ is not the earlier URL's userinfo", "http://u:pw9@a.example/?r=ftp://h@b",
     f"http://u:{M}@a.example/?r=ftp://h@b"),
    ("40 characters with three slashes are a key", "see ab/cd/efgh/Nq7vX2pLr9sT4wYb8zKc3mFh6jDg1 here", f"see {M} here"),
    ("a secret name with nothing after it", "password=", "password="),
    ("a list value is structure", "token=[1,2]", "token=[1,2]"),
    ("a plain value longer than the pattern reads is masked to its end",
     "password=" + "a" * 1100 + " tail", f"password={M} tail"),
    ("a key inside a masked value", "x=1 password=token=abc rest", f"x=1 password={M} rest"),
    ("indentation of 32 characters is a YAML key", "x\n" + " " * 32 + "password: abc", "x\n" + " " * 32 + f"password: {M}"),
    ("indentation of 33 characters is not looked through", "x\n" + " " * 33 + "password: abc",
     "x\n" + " " * 33 + "password: abc"),
    ("a key after a carriage return", "note\rpassword: abc", f"note\rpassword: {M}"),
    ("a key after a tab", "\tpassword: abc", f"\tpassword: {M}"),
    ("a key at the start of the text", "password: abc", f"password: {M}"),
    ("an upper-case name in prose is a key", "PASSWORD: expired", f"PASSWORD: {M}"),
    ("a long word after a name in prose is a credential", "the token: abcdefghijklmnopqrst", f"the token: {M}"),
    ("a secret-named key ending where a masked plain value ends has its quoted value read",
     "password=token='a b'", f"password={M}'{M}'"),
    ("a secret-named key inside a quoted value has its value read", "password=\"x token='a\" b'", f"password=\"{M}'"),
    ("a value starting and ending with the same letter is masked whole", "password=XabcX", f"password={M}"),
    ("a one-character value after an unterminated quote", 'password="x', f'password="{M}'),
    ("an unterminated quote on a later line masks that line's rest", 'ok\npassword="hunter two', f'ok\npassword="{M}'),
    ("an ARN value is kept whole, past what the ARN pattern reads", "token=arn:aws:ssm:us-east-1:1:parameter/x?version=2",
     "token=arn:aws:ssm:us-east-1:1:parameter/x?version=2"),
    ("a structure value does not stop later keys", 'token={"a": 1} password=hunter2', f'token={{"a": 1}} password={M}'),
    ("a short value far into the text ends at the next key", "x" * 1100 + " password=abc&next=1",
     "x" * 1100 + f" password={M}&next=1"),
    ("a long plain value after other words is masked to its end", "set password=" + "a" * 1100 + " tail",
     f"set password={M} tail"),
    ("a credential ending in a capital letter", "Basic abcdefghijklmnopqrsX", f"Basic {M}"),
    ("a YAML key at the start of a text ending in a space", "  password: abc ", f"  password: {M} "),
    ("a word before a name in prose, at the start of the text", "X password: abc", "X password: abc"),
    ("a quoted name in prose is a key", 'got "password": expired', f'got "password": {M}'),
    ("a name that is no secret does not stop later names", "mode=fast password=hunter2", f"mode=fast password={M}"),
    (".netrc with user", "machine h user deploy password s3cr3t", f"machine h user deploy password {M}"),
    ("two keys without an END: each masks its own body", f"{B}\nzz\nText then {B}\nyy\nmore prose",
     f"{B}\n{M}\nText then {B}\n{M}\nmore prose"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BOUNDARY_CASES], ids=[c[0] for c in BOUNDARY_CASES])
def test_rule_bounds(text, expected):
    assert redact_text(text) == expected


def test_an_event_starting_with_a_newline_inside_an_open_key():
    assert redact_lines([B, "\nYw==\nTraceback x"]) == [B, f"\n{M}\nTraceback x"]


@pytest.mark.parametrize(("name", "secret"), [
    ("x" * 120 + "password", True),      # 128 characters: still a name
    ("x" * 121 + "password", False),     # 129: not a name, nothing is decided on it
    ("___", False),                      # no word at all
    ("tokenConfig", True),               # a secret word, then a word that is no pointer
    ("PGPASSWORD", True), ("Pass", True), ("Passwd", True), ("api_key_2", True), ("aws4Sig", True),
    ("secretKeyArn", False), ("pwdHint", False), ("2fa", False),
])
def test_a_value_under_a_name_is_masked_when_the_name_says_secret(name, secret):
    assert (redact_text(f"{name}=abc123def") == f"{name}={M}") is secret
