"""The redaction corpora: realistic secret forms that must be masked, identifiers that must never be touched.

`TEXT_CASES`: one string each (a log line, an event, a reason, a shell line), the secret substrings it
holds and the diagnostic substrings that must survive. `STREAM_CASES`: the events of one log stream
(awslogs sends each line of a private key as an event of its own). `FIELD_CASES`: a container definition
(or a task's container override) and the secrets its structured fields hold. `IDENTIFIERS`: ids the
diagnosis joins on (ARNs, task ids, image refs, digests, request ids, log stream names...), and
`DIAGNOSTIC_TEXTS`: AWS and application texts full of secret-ish words that the rules must still read.

The values are made up in the real shapes (lengths, alphabets, prefixes); none is a live credential.
Used by tests/unit/test_redaction_corpus.py and bench/redaction_speed.py (which counts them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

AWS_SECRET = "Nq7vX2pLr9sT4wYb8zKc3mFh6jDg1aQe5uRi0oPl"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhcGkiLCJyb2xlIjoiYWRtaW4ifQ."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
RSA_BODY = ["MIIEpAIBAAKCAQEA7bq9Xy0Zc3JpvW6k1lZqkQ8bB1xv0s2Hk5mL4nP7rT9wYcD",
            "fG2hJ8kL3mN6pQ9rS2tU5vW8xY1zA4bC7dE0fH3iJ6kL9mN2oP5qR8sT1uV4wX7",
            "yZ0aB3cD6eF9gH2iJ5kL8mN1oP4qR7sT0uV3wX6yZ9aB2cD5eF8gH1iJ4kL7mN0",
            "oP3qR6sT9uV2wX5yZ8aB1cD4eF7gH0iJ3kL6mN9oP2qR5sT8uV1wX4yZ7aB0cD"]


class Expected(Protocol):
    secrets: tuple[str, ...]
    kept: tuple[str, ...]


def wrong(case: Expected, redacted: str) -> list[str]:
    """What a redaction got wrong: secrets still in its output, diagnostic text lost from it."""
    return ([f"leaked {s!r}" for s in case.secrets if s in redacted]
            + [f"lost {k!r}" for k in case.kept if k not in redacted])


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # the class of secret, as the issue lists them
    text: str
    secrets: tuple[str, ...]
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamCase:
    name: str
    lines: tuple[str, ...]
    secrets: tuple[str, ...]
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldCase:
    name: str
    container: dict[str, Any]
    secrets: tuple[str, ...]
    kept: tuple[str, ...] = ()
    override: bool = False  # a task's container override rather than a task-definition container
    extra: dict[str, Any] = field(default_factory=dict)  # task-definition fields beside containerDefinitions

    def evidence(self) -> dict[str, Any]:
        """An evidence document holding the container where it belongs."""
        overrides = [{"overrides": {"containerOverrides": [self.container]}}] if self.override else []
        return {"task_definitions": {"arn:aws:ecs:us-east-1:123456789012:task-definition/api:7": {
                    "containerDefinitions": [] if self.override else [self.container], **self.extra}},
                "tasks": {"running": overrides, "stopped": []}}


TEXT_CASES: tuple[Case, ...] = (
    # -- URLs --------------------------------------------------------------------------------------------
    Case("url password", "url", "connect postgres://app:S3cr3tPw@db.internal:5432/app failed",
         ("S3cr3tPw",), ("postgres://app:", "db.internal:5432/app failed")),
    Case("url password with @", "url", "could not connect to postgres://orders:p@ss@word1@db.prod.internal:5432/orders",
         ("p@ss@word1", "ss@word1"), ("db.prod.internal:5432/orders",)),
    Case("url password with /", "url", "mongo: mongodb://admin:ab/cd+ef/gh9@mongo-0.mongo:27017/admin timed out",
         ("ab/cd+ef/gh9", "cd+ef/gh9"), ("mongo-0.mongo:27017/admin timed out",)),
    Case("url password with @ / # ?", "url", "amqp://svc:x9@/y#z?q@rabbit.internal:5672/vhost refused",
         ("x9@/y#z?q", "y#z?q"), ("rabbit.internal:5672/vhost refused",)),
    Case("url empty user", "url", "redis connect redis://:r3dis-Pa55word@cache.internal:6379/0 refused",
         ("r3dis-Pa55word",), ("cache.internal:6379/0 refused",)),
    Case("url github token as user", "url",
         "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/org/repo.git failed",
         ("ghp_16C7e42F292c6912E7710c838347Ae178B4a",), ("@github.com/org/repo.git",)),
    Case("url hex token as user", "url", "fetch https://9f86d081884c7d659a2feaa0c55ad015a3bf4f1b@github.com/org/repo.git",
         ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",), ("@github.com/org/repo.git",)),
    Case("url x-access-token", "url",
         "remote: https://x-access-token:ghs_Zq8Yb7Xc6Wd5Ve4Uf3Tg2Sh1Ri0Qj9Pk8Ol7N@github.com/org/app",
         ("ghs_Zq8Yb7Xc6Wd5Ve4Uf3Tg2Sh1Ri0Qj9Pk8Ol7N",), ("x-access-token:", "@github.com/org/app")),
    Case("url oauth2 gitlab", "url", "https://oauth2:glpat-Xy9zAbCdEf0123456789@gitlab.example.com/group/app.git",
         ("glpat-Xy9zAbCdEf0123456789",), ("gitlab.example.com/group/app.git",)),
    Case("jdbc query password", "url", "jdbc:mysql://db:3306/app?user=app&password=Jd8c!pw&useSSL=true",
         ("Jd8c!pw",), ("user=app", "useSSL=true")),
    Case("query access_token", "url", "GET /cb?state=xyz&access_token=4f9c2b1e7d3a8f60c5b2e91d HTTP/1.1 200",
         ("4f9c2b1e7d3a8f60c5b2e91d",), ("state=xyz", "HTTP/1.1 200")),
    Case("presigned url", "url",
         "GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3"
         "&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024 403",
         ("AKIAIOSFODNN7EXAMPLE", "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"), ("403",)),
    Case("slack webhook", "url",
         "POST https://hooks.slack.com/services/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 -> 404",
         ("q7R8s9T0u1V2w3X4y5Z6a7B8",), ("hooks.slack.com", "-> 404")),
    Case("azure sas", "url",
         "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sp=rl&se=2025-01-01&sig=Zm9vYmFy%2BYmF6cXV4MTIz%3D",
         ("Zm9vYmFy%2BYmF6cXV4MTIz%3D",), ("acct.blob.core.windows.net", "sv=2022-11-02")),
    # -- AWS -------------------------------------------------------------------------------------------
    Case("access key id", "aws", "ERROR boto3 auth failed for key AKIAQYLPMN5HHHFPZAM2", ("AKIAQYLPMN5HHHFPZAM2",)),
    Case("session key id", "aws", "sts creds ASIAY34FZKBOKMUTVV7A expired", ("ASIAY34FZKBOKMUTVV7A",)),
    Case("secret key ini", "aws", f"aws_secret_access_key = {AWS_SECRET}", (AWS_SECRET,), ("aws_secret_access_key",)),
    Case("secret key json", "aws", f'{{"AccessKeyId": "ASIAY34FZKBOKMUTVV7A", "SecretAccessKey": "{AWS_SECRET}"}}',
         (AWS_SECRET, "ASIAY34FZKBOKMUTVV7A"), ("SecretAccessKey",)),
    Case("secret key env", "aws", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET} python app.py", (AWS_SECRET,), ("python app.py",)),
    Case("secret key bare", "aws", f"got {AWS_SECRET} back from the vault", (AWS_SECRET,), ("from the vault",)),
    Case("key id:secret pair", "aws", f"creds AKIAQYLPMN5HHHFPZAM2:{AWS_SECRET} rejected",
         ("AKIAQYLPMN5HHHFPZAM2", AWS_SECRET), ("rejected",)),
    Case("session token", "aws", "using IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7kQ2Zt9 for s3",
         ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7kQ2Zt9",), ("for s3",)),
    Case("session token ini", "aws", "aws_session_token=FwoGZXIvYXdzEBYaDHqa0AP1/AbCdEfGhIjKlMnOpQrStUvWxYz",
         ("FwoGZXIvYXdzEBYaDHqa0AP1/AbCdEfGhIjKlMnOpQrStUvWxYz",)),
    # -- vendor tokens ---------------------------------------------------------------------------------
    Case("github classic pat", "token", "GITHUB_TOKEN ghp_16C7e42F292c6912E7710c838347Ae178B4a loaded",
         ("ghp_16C7e42F292c6912E7710c838347Ae178B4a",), ("loaded",)),
    Case("github fine-grained pat", "token",
         "using github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXy",
         ("github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXy",)),
    Case("gitlab pat", "token", "clone failed with glpat-Xy9zAbCdEf0123456789 (401)",
         ("glpat-Xy9zAbCdEf0123456789",), ("(401)",)),
    Case("gitlab runner token", "token", "runner registered with glrt-t3_AbCdEfGhIjKlMnOpQrStUv",
         ("glrt-t3_AbCdEfGhIjKlMnOpQrStUv",)),
    Case("slack bot token", "token", "slack post with xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx: 403",
         ("xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",), (": 403",)),
    Case("slack user token", "token", "token xoxp-2222222222-3333333333-4444444444-abcdef0123456789abcdef0123456789",
         ("xoxp-2222222222-3333333333-4444444444-abcdef0123456789abcdef0123456789",)),
    Case("stripe secret key", "token", "stripe error for sk_live_51HqLyjWDarjtT1zdp7dcQxYz (card_declined)",
         ("sk_live_51HqLyjWDarjtT1zdp7dcQxYz",), ("(card_declined)",)),
    Case("stripe restricted key", "token", "key rk_test_4eC39HqLyjWDarjtT1zdp7dc rejected",
         ("rk_test_4eC39HqLyjWDarjtT1zdp7dc",)),
    Case("stripe webhook secret", "token", "signing with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw failed",
         ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",)),
    Case("npmrc token", "token", "//registry.npmjs.org/:_authToken=npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
         ("npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",), ("registry.npmjs.org",)),
    Case("pypi token", "token",
         "twine upload -u __token__ -p pypi-AgEIcHlwaS5vcmcCJGI4YmNhMDA0LTE2ZDMtNDhmMS1iNmFjLWY0OGQyNzVhYmJmYgACKlszLCJl",
         ("pypi-AgEIcHlwaS5vcmcCJGI4YmNhMDA0LTE2ZDMtNDhmMS1iNmFjLWY0OGQyNzVhYmJmYgACKlszLCJl",), ("__token__",)),
    Case("google api key", "token", "maps call with key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY returned 403",
         ("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",), ("returned 403",)),
    Case("google oauth token", "token", "token ya29.a0AfH6SMBx7Kq3ExampleToken_1234567890abcdef expired",
         ("ya29.a0AfH6SMBx7Kq3ExampleToken_1234567890abcdef",), ("expired",)),
    Case("sendgrid key", "token", "mail send with 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",
         ("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",)),
    Case("openai key", "token", "openai 401 for sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd",
         ("sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd",), ("openai 401",)),
    Case("anthropic key", "token", "ANTHROPIC key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-AbCdEf",
         ("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-AbCdEf",)),
    Case("vault token", "token", "vault login hvs.CAESIJ3Zq9Xy8Wv7Ut6Sr5Qp4On3Ml2Kj1Ih0 ok",
         ("hvs.CAESIJ3Zq9Xy8Wv7Ut6Sr5Qp4On3Ml2Kj1Ih0",)),
    Case("docker hub pat", "token", "docker login with dckr_pat_2b3e36beeb386dfdaacb9b46004ccb7c",
         ("dckr_pat_2b3e36beeb386dfdaacb9b46004ccb7c",)),
    Case("jwt", "token", f"GET /admin token {JWT} -> 500", (JWT, JWT.rsplit(".", 1)[1]), ("-> 500",)),
    # -- headers ---------------------------------------------------------------------------------------
    Case("bearer header", "header", f"ERROR GET /admin Authorization: Bearer {JWT} -> 500", (JWT,), ("-> 500",)),
    Case("bearer opaque", "header", "Authorization: Bearer 9f8e7d6c5b4a39281706", ("9f8e7d6c5b4a39281706",)),
    Case("basic auth header", "header", "Authorization: Basic dXNlcjpTM2NyM3RQYXNz rejected",
         ("dXNlcjpTM2NyM3RQYXNz",), ("Basic", "rejected")),
    Case("proxy authorization", "header", "Proxy-Authorization: Basic cHJveHk6cHIweHlQdw==",
         ("cHJveHk6cHIweHlQdw==",)),
    Case("github token header", "header", "Authorization: token 0123456789abcdef0123456789abcdef01234567",
         ("0123456789abcdef0123456789abcdef01234567",)),
    Case("x-api-key header", "header", "x-api-key: 5f4dcc3b5aa765d61d8327deb882cf99 sent", ("5f4dcc3b5aa765d61d8327deb882cf99",)),
    Case("x-auth-token header", "header", "X-Auth-Token: tok_8Hj2Kl9Mn3Pq", ("tok_8Hj2Kl9Mn3Pq",)),
    Case("cookie header", "header", "Cookie: session=3d9f1a7b2c; csrftoken=8e7d6c5b4a", ("3d9f1a7b2c", "8e7d6c5b4a")),
    Case("set-cookie header", "header", "Set-Cookie: JSESSIONID=A1B2C3D4E5F6A7B8; Path=/; HttpOnly",
         ("A1B2C3D4E5F6A7B8",)),
    Case("curl bearer in health check", "header",
         'CMD-SHELL curl -fsS -H "Authorization: Bearer hc_9Zx8Yw7Vu6" http://localhost:8080/health || exit 1',
         ("hc_9Zx8Yw7Vu6",), ("http://localhost:8080/health",)),
    # -- values of secret names ------------------------------------------------------------------------
    Case("DB_PASS=", "key-value", "starting with DB_PASS=hunter2 DB_HOST=db.internal", ("hunter2",), ("DB_HOST=db.internal",)),
    Case("DB_PASSWORD=", "key-value", "DB_PASSWORD=hunter2hunter2 starting", ("hunter2hunter2",), ("starting",)),
    Case("FOO_SECRET=", "key-value", "env: FOO_SECRET=Zk3!q9_w", ("Zk3!q9_w",)),
    Case("env colon", "key-value", "API_TOKEN: 0a1b2c3d4e5f", ("0a1b2c3d4e5f",)),
    Case("password=letmein", "key-value", "login with password=letmein99", ("letmein99",)),
    Case("quoted password with spaces", "key-value", 'password="correct horse battery staple" user=bob',
         ("correct horse battery staple", "horse battery"), ("user=bob",)),
    Case("single-quoted with spaces", "key-value", "export DB_PASSWORD='two words'", ("two words",)),
    Case("json password", "key-value", '{"password": "correct-horse-battery", "user": "bob"}',
         ("correct-horse-battery",), ('"user": "bob"',)),
    Case("json password with spaces", "key-value", '{"db_password":"my secret pw"}', ("my secret pw", "secret pw")),
    Case("escaped json in a log line", "key-value",
         '{"msg":"config loaded {\\"db_password\\":\\"s3cr3t pw\\",\\"host\\":\\"db\\"}"}', ("s3cr3t pw",),
         ("config loaded", '\\"host\\":\\"db\\"')),
    Case("yaml", "key-value", "database:\n  host: db.internal\n  password: hunter2\n", ("hunter2",), ("host: db.internal",)),
    Case("yaml secret key", "key-value", "  secretKey: abcd1234efgh", ("abcd1234efgh",)),
    Case("python repr", "key-value", "settings {'api_key': 'abc123def456', 'debug': True}", ("abc123def456",),
         ("'debug': True",)),
    Case("ruby hash", "key-value", "{'password' => 'r0ckS0ck!'}", ("r0ckS0ck!",)),
    Case("json name/value pair", "key-value", '[{"name": "DB_PASSWORD", "value": "hunter 22"}, {"name": "PORT"}]',
         ("hunter 22",), ('"DB_PASSWORD"', '"PORT"')),
    Case("spring property", "key-value", "spring.datasource.password=Spr1ngPw", ("Spr1ngPw",)),
    Case("STRIPE_API_KEY colon", "key-value", "STRIPE_API_KEY: sk_live_51HqLyjWDarjtT1zdp7dc",
         ("sk_live_51HqLyjWDarjtT1zdp7dc",)),
    Case("netrc", "key-value", "machine db.internal login admin password N3tRcPw!", ("N3tRcPw!",),
         ("machine db.internal login admin",)),
    Case("azure storage connection string", "key-value",
         "DefaultEndpointsProtocol=https;AccountName=prodstore;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6"
         "IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
         ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6",), ("AccountName=prodstore", "EndpointSuffix=core.windows.net")),
    Case("azure service bus", "key-value",
         "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
         "SharedAccessKey=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCd=",
         ("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",), ("SharedAccessKeyName=RootManageSharedAccessKey",)),
    Case("sql server connection string", "key-value",
         "Server=tcp:db.example.com,1433;Database=app;User ID=app;Password=Pa55;word!;Encrypt=true",
         ("Pa55;word!", "word!"), ("Database=app", "Encrypt=true")),
    Case("odbc pwd", "key-value", "Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=Odbc#Pw9;", ("Odbc#Pw9",), ("Uid=sa",)),
    # -- command lines ---------------------------------------------------------------------------------
    Case("curl -u", "command", "curl -f -u admin:Adm1nPw http://localhost/health || exit 1", ("Adm1nPw",),
         ("-u admin:", "http://localhost/health")),
    Case("curl --user", "command", "curl --user deploy:D3pl0y! https://ci.example.com", ("D3pl0y!",), ("deploy:",)),
    Case("mysql -p attached", "command", "mysqladmin ping -h localhost -uroot -pMyR00tPw", ("MyR00tPw",), ("-uroot",)),
    Case("redis-cli -a", "command", "redis-cli -h cache -p 6379 -a R3disPw ping", ("R3disPw",), ("-p 6379", "ping")),
    Case("--password=", "command", "app migrate --password=Cl1Pw --verbose", ("Cl1Pw",), ("--verbose",)),
    Case("--password quoted", "command", 'app --user bob --password "quoted pw" --port 5432', ("quoted pw",),
         ("--port 5432",)),
    Case("--db-password", "command", "worker --db-password W0rkerPw --queue jobs", ("W0rkerPw",), ("--queue jobs",)),
    Case("--token", "command", "agent --token 7c4a8d09ca3762af61e59520943dc264 --url https://x", ("7c4a8d09ca3762af61e59520943dc264",)),
    Case("--api-key=", "command", "exec app --api-key=k_9f8e7d --region us-east-1", ("k_9f8e7d",), ("us-east-1",)),
    Case("sshpass -p", "command", "sshpass -p 'S5h Pw' ssh deploy@host; mkdir -p /data", ("S5h Pw",), ("mkdir -p /data",)),
    Case("keytool storepass", "command", "keytool -importkeystore -storepass changeit9 -destkeystore app.jks",
         ("changeit9",), ("-destkeystore app.jks",)),
    Case("openssl passin", "command", "openssl pkcs12 -in app.p12 -passin pass:Op3nSSL -nodes", ("Op3nSSL",), ("-nodes",)),
    Case("PGPASSWORD env", "command", "PGPASSWORD=Pg_Pw-77 psql -h db -p 5432 -U app", ("Pg_Pw-77",), ("-p 5432",)),
    Case("docker login -p", "command", "docker login -u AWS -p D0ckerPw 123456789012.dkr.ecr.us-east-1.amazonaws.com",
         ("D0ckerPw",), ("123456789012.dkr.ecr.us-east-1.amazonaws.com",)),
    Case("ldapsearch -w", "command", "ldapsearch -x -D cn=admin -w LdapPw9 -b dc=example", ("LdapPw9",), ("-b dc=example",)),
    # -- private keys in one string --------------------------------------------------------------------
    Case("pem inline", "private key", f"key: -----BEGIN RSA PRIVATE KEY----- {RSA_BODY[0]} -----END RSA PRIVATE KEY----- loaded",
         (RSA_BODY[0],), ("key:", "loaded")),
    Case("pem multi-line string", "private key",
         "-----BEGIN PRIVATE KEY-----\n" + "\n".join(RSA_BODY) + "\n-----END PRIVATE KEY-----\nnext line",
         tuple(RSA_BODY), ("next line",)),
    Case("pem escaped in json", "private key",
         '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n' + "\\n".join(RSA_BODY)
         + '\\n-----END PRIVATE KEY-----\\n", "client_email": "svc@p.iam.gserviceaccount.com"}',
         tuple(RSA_BODY), ("svc@p.iam.gserviceaccount.com",)),
    Case("openssh key", "private key",
         "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
         "-----END OPENSSH PRIVATE KEY-----", ("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",)),
    Case("ec key cut before its end", "private key", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5",
         ("MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5",)),
    Case("encrypted key", "private key",
         "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n"
         "-----END ENCRYPTED PRIVATE KEY-----", ("MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI",)),
    Case("pgp key block", "private key",
         "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0NIDUBCADCe7Ne0qYwN3Z8Xk5Rt2Lb9Jd4Gv6Hs1Mp\n"
         "-----END PGP PRIVATE KEY BLOCK-----", ("lQOYBF0NIDUBCADCe7Ne0qYwN3Z8Xk5Rt2Lb9Jd4Gv6Hs1Mp",)),
)

STREAM_CASES: tuple[StreamCase, ...] = (
    StreamCase("rsa key, one event per line",
               ("-----BEGIN RSA PRIVATE KEY-----", *RSA_BODY, "-----END RSA PRIVATE KEY-----", "server started on :8080"),
               tuple(RSA_BODY), ("server started on :8080",)),
    StreamCase("key logged after a prefix, text after its end",
               ("2024-11-21T10:00:00Z INFO loaded TLS key -----BEGIN PRIVATE KEY-----", *RSA_BODY[:2],
                "-----END PRIVATE KEY----- (2 lines) password=Aft3rKey", "ERROR ImportError: cannot import name 'x'"),
               (*RSA_BODY[:2], "Aft3rKey"), ("loaded TLS key", "ImportError: cannot import name 'x'")),
    StreamCase("body lines without their BEGIN line (cut by the window)",
               (*RSA_BODY[2:], "-----END RSA PRIVATE KEY-----", "OutOfMemoryError: Java heap space"),
               tuple(RSA_BODY[2:]), ("OutOfMemoryError: Java heap space",)),
)

FIELD_CASES: tuple[FieldCase, ...] = (
    FieldCase("environment values", {"name": "api", "environment": [
        {"name": "DATABASE_URL", "value": "postgres://u:EnvPw1@h/db"}, {"name": "FEATURE_FLAG", "value": "beta-7"}]},
        ("EnvPw1", "beta-7"), ("DATABASE_URL", "FEATURE_FLAG")),
    FieldCase("secrets valueFrom", {"name": "api", "secrets": [
        {"name": "STRIPE_KEY", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe-Ab12Cd"}]},
        ("secret:stripe-Ab12Cd",), ("STRIPE_KEY",)),
    FieldCase("command --password", {"name": "api", "command": ["migrate", "--password", "CmdPw-1", "--host", "db"]},
              ("CmdPw-1",), ("migrate", "--host", "db")),
    FieldCase("command --token=", {"name": "api", "command": ["serve", "--token=7c4a8d09ca37", "--port=8080"]},
              ("7c4a8d09ca37",), ("--port=8080",)),
    FieldCase("command -p (mysql)", {"name": "db", "command": ["mysql", "-h", "db", "-uroot", "-pR00tPw", "-e", "select 1"]},
              ("R00tPw",), ("-uroot", "select 1")),
    FieldCase("command -p value", {"name": "sync", "command": ["sshpass", "-p", "SyncPw9", "rsync", "-p", "/data"]},
              ("SyncPw9",), ("/data",)),
    FieldCase("entryPoint shell string", {"name": "api", "entryPoint": [
        "sh", "-c", "export API_KEY=ep_2k9X; exec app --client-secret 'cs 88' --listen :8080"]},
        ("ep_2k9X", "cs 88"), ("--listen :8080",)),
    FieldCase("health check curl -u", {"name": "api", "healthCheck": {"command": [
        "CMD-SHELL", "curl -f -u monitor:Hc-Pw42 http://localhost:8080/health || exit 1"], "interval": 30}},
        ("Hc-Pw42",), ("monitor:", "http://localhost:8080/health")),
    FieldCase("health check args", {"name": "db", "healthCheck": {"command": [
        "CMD", "redis-cli", "-a", "RedisHc9", "ping"]}}, ("RedisHc9",), ("ping",)),
    FieldCase("docker labels", {"name": "api", "dockerLabels": {
        "com.example.db-password": "Tr0ub4dor&3", "team": "payments",
        "traefik.http.middlewares.auth.basicauth.users": "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
        "deploy.note": "pushed with ghp_16C7e42F292c6912E7710c838347Ae178B4a"}},
        ("Tr0ub4dor&3", "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
        ("payments", "com.example.db-password", "pushed with")),
    FieldCase("log options and secretOptions", {"name": "api", "logConfiguration": {
        "logDriver": "splunk", "options": {"splunk-url": "https://splunk.example:8088",
                                           "splunk-token": "7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70"},
        "secretOptions": [{"name": "splunk-token", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/splunk"}]}},
        ("7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70", "parameter/splunk"), ("https://splunk.example:8088", "splunk-token")),
    FieldCase("firelens options", {"name": "log_router", "logConfiguration": {
        "logDriver": "awsfirelens", "options": {"Name": "datadog", "apikey": "0123abcd4567ef89", "Host": "http-intake",
                                                "HTTP_Passwd": "Flu3ntPw"}}},
        ("0123abcd4567ef89", "Flu3ntPw"), ("datadog", "http-intake")),
    FieldCase("repository credentials", {"name": "api", "repositoryCredentials": {
        "credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-XyZ"}},
        ("dockerhub-XyZ",)),
    FieldCase("task override", {"name": "api", "environment": [{"name": "TOKEN", "value": "abc123xyz"}],
                                "command": ["--password=OvrPw"]}, ("abc123xyz", "OvrPw"), ("TOKEN",), override=True),
    FieldCase("volume driver options", {"name": "api"}, ("Vol-Pw8",), ("rexray",), extra={"volumes": [
        {"name": "data", "dockerVolumeConfiguration": {"driver": "rexray", "driverOpts": {"password": "Vol-Pw8"}}}]}),
    FieldCase("proxy properties", {"name": "api"}, ("Prx5ecret",), ("IgnoredUID",), extra={"proxyConfiguration": {
        "type": "APPMESH", "containerName": "envoy", "properties": [
            {"name": "IgnoredUID", "value": "1337"}, {"name": "AuthToken", "value": "Prx5ecret"}]}}),
)

_TASK_ID = "0123456789abcdef0123456789abcdef"
# Where an identifier may stand: alone, in a sentence, a JSON value, after a non-secret key, in a reason, a YAML value.
IDENTIFIER_CONTEXTS = ("{}", "ERROR task {} stopped", '{{"taskArn": "{}"}}', "resource={} status=STOPPED",
                       "({}): not found", "image: {}")
IDENTIFIERS: tuple[str, ...] = (
    f"arn:aws:ecs:us-east-1:123456789012:task/prod/{_TASK_ID}",
    "arn:aws:ecs:us-east-1:123456789012:task/prod-Orders1/e92e8160af5b5592be7f4b4eaddd2a04",
    "arn:aws:ecs:us-east-1:123456789012:task/my-Cluster/0c4e57a2b1d94b7e8f3a6d5c2b1e0f9a",
    "arn:aws:ecs:eu-west-1:123456789012:task/Prod01/7d3f5b2a9c8e4f6a1b0d2c4e6f8a0b1c",
    "arn:aws:ecs:us-east-1:123456789012:task/1dc5c17a-422b-4dc4-b493-371970c6c4d6",
    "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
    "arn:aws:ecs:us-east-1:123456789012:service/prod/api",
    "arn:aws:ecs:us-east-1:123456789012:service/api",
    "arn:aws:ecs:us-east-1:123456789012:task-definition/api:62",
    "arn:aws:ecs:us-east-1:123456789012:task-definition/token-refresher:3",
    "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/5b9d2f0e8c7a4b3e9d1f6a2c4e8b0d7f",
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/api/Kz5wTtgFHk4bGa2aXqx6T",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db_password-AbCdEf",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-token-Xy12Zw:password::",
    "arn:aws:ssm:us-east-1:123456789012:parameter/prod/api/DB_PASSWORD",
    "arn:aws:iam::123456789012:role/token-refresher",
    f"arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/{_TASK_ID}",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/api:*",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067",
    "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task/prod/4f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "arn:aws-cn:ecs:cn-north-1:123456789012:service/prod/api",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v3.3.0",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments/api-token:v1.2.3",
    "registry.example.com:5000/team/secret-manager:v1@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "public.ecr.aws/nginx/nginx:1.25-alpine",
    "ghcr.io/org/token-service:2024.11.20",
    "docker.io/library/redis:7",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70",
    "RequestId: 7f2c1e9a-4b3d-4c8e-9f1a-2b3c4d5e6f70",
    "x-amz-request-id: 4442587FB7D0A2F9",
    "x-amz-id-2: eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran",
    "Root=1-5759e988-bd862e3fe1be46a994272793",
    "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "d2c6a5b8f1e94c3a7b0e6f5d4c3b2a19087f6e5d4c3b2a1908f7e6d5c4b3a291",
    f"{_TASK_ID}-2531612879",
    f"ecs/api/{_TASK_ID}",
    f"ecs/Api/{_TASK_ID}",
    "ecs/orders/e92e8160af5b5592be7f4b4eaddd2a04",
    f"firelens/log_router/{_TASK_ID}",
    "Orders1/e92e8160af5b5592be7f4b4eaddd2a04",
    "eni-0a1b2c3d4e5f67890",
    "i-0abcdef1234567890",
    "subnet-0a1b2c3d",
    "sg-0123abcd",
    "ecs-svc/1234567890123456789",
    "AROA3XFRBF535PLBIFPI4:ecs-task",
    "TargetTracking-service/prod/api-AlarmHigh-4c3f2e1d-9b8a-4c7d-8e6f-5a4b3c2d1e0f",
    "2024-11-21T10:15:30.123456+00:00",
)

DIAGNOSTIC_TEXTS: tuple[str, ...] = (
    "Essential container in task exited",
    "OutOfMemoryError: Container killed due to memory usage",
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
    "unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret "
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf: AccessDeniedException: User: "
    f"arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/{_TASK_ID} is not authorized to perform: "
    "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    "ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry auth from "
    "Amazon ECR: There is a connection issue between the task and Amazon ECR. Check your task network configuration. "
    'RequestError: send request failed caused by: Post "https://api.ecr.us-east-1.amazonaws.com/": dial tcp '
    "44.213.79.86:443: i/o timeout",
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
    "unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid ssm parameters: "
    "/prod/api/DB_PASSWORD",
    "ResourceInitializationError: retrieved secret from Secrets Manager did not contain json key password",
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v3.3.0: not found",
    "KeyError: 'DATABASE_PASSWORD'",
    "ValueError: SECRET_KEY must be set",
    "environment variable DB_PASSWORD is not set",
    "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.",
    'FATAL: password authentication failed for user "orders"',
    "invalid token: signature mismatch",
    'level=error msg="auth: token refresh failed" err="401 Unauthorized"',
    "Authorization header missing",
    "Bearer token invalid",
    "Basic authentication required",
    f"(service api) has started 1 tasks: (task {_TASK_ID}).",
    f"(service api) has stopped 1 running tasks: (task {_TASK_ID}).",
    "(service api) (port 8080) is unhealthy in target-group api-tg due to (reason Health checks failed).",
    "Task failed ELB health checks in (target-group "
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067)",
    "CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: failed to "
    'create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: '
    '"/app/start.sh": permission denied: unknown',
    "docker run -p 8080:80 -e PORT=8080 nginx:1.25; mkdir -p /var/run/app; psql -h db -p 5432 -U app",
    "Traceback (most recent call last):",
    '  File "/app/orders/pricing.py", line 3, in <module>',
    "ImportError: cannot import name 'quantise' from 'decimal' (/usr/local/lib/python3.12/decimal.py)",
)
