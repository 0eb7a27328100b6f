"""Secret masking: a corpus of secrets that must go and of look-alikes that must stay.

Every fake secret is put together from parts at run time, so that this file holds nothing a
secret scanner would flag; the values are fake but shaped like the real thing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import string

import pytest

from bot.services import secret_rules
from bot.services.secret_masking import mask_secrets, shannon_entropy

# Alphabets for fake secrets, shuffled the same way every run.
ALNUM = "".join(sorted(string.ascii_letters + string.digits, key=lambda c: ord(c) * 37 % 101))
HEX = "".join(f"{i:x}{15 - i:x}" for i in range(8))
UPPER = "".join(sorted(string.ascii_uppercase + string.digits, key=lambda c: ord(c) * 37 % 101))
B64 = ALNUM + "+/"


def fake(length: int, alphabet: str = ALNUM, shift: int = 0) -> str:
    """A fake secret body: the alphabet cycled from an offset."""
    text = alphabet[shift % len(alphabet) :] + alphabet[: shift % len(alphabet)]
    return (text * (length // len(text) + 1))[:length]


def b64url(data: dict[str, object]) -> str:
    """base64url of a JSON object, without padding, as in a JWT."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


JWT = ".".join(
    [
        b64url({"alg": "HS256", "typ": "JWT"}),
        b64url({"sub": "fake-user", "iat": 1700000000, "name": "Not A Real User"}),
        fake(43, ALNUM + "-_", 5),
    ]
)


def pem(kind: str, lines: int = 4, width: int = 64) -> tuple[str, list[str]]:
    """A fake PEM private key block of a kind, and its body lines."""
    body = [fake(width, B64, shift=i * 7) for i in range(lines)]
    begin, end = "-----" + "BEGIN " + kind + "-----", "-----" + "END " + kind + "-----"
    return "\n".join([begin, *body, end]), body


PK = "PRIVATE " + "KEY"
RSA_KEY, RSA_BODY = pem("RSA " + PK)
OPENSSH_KEY, OPENSSH_BODY = pem("OPENSSH " + PK, lines=6, width=70)
EC_KEY, EC_BODY = pem("EC " + PK, lines=3)
PKCS8_KEY, PKCS8_BODY = pem(PK, lines=5)
ENCRYPTED_KEY, ENCRYPTED_BODY = pem("ENCRYPTED " + PK, lines=5)
PGP_KEY, PGP_BODY = pem("PGP " + PK + " BLOCK", lines=5)

AWS_40 = fake(40, ALNUM + "/+", 3)
DB_PW = "Pg-" + fake(14, shift=9) + "!"

# (what it is, a message holding it, the secret value or values that must not survive)
SECRETS: list[tuple[str, str, str | tuple[str, ...]]] = []


def secret(name: str, message: str, value: str | tuple[str, ...]) -> None:
    """Add one case to the secrets corpus."""
    SECRETS.append((name, message, value))


_s = fake(24, shift=1)
secret("slack bot token", f"bot uses xox{'b'}-1234567890123-1234567890123-{_s} now", _s)
_s = "xox" + "p-1234567890123-1234567890123-1234567890123-" + fake(32, HEX)
secret("slack user token", f"my token is {_s} oops", _s)
_s = "xox" + "c-1234567890123-1234567890123-1234567890123-" + fake(64, HEX, 3)
secret("slack client token", f"from the browser: {_s}", _s)
_s = "xox" + "d-" + fake(20, shift=2) + "%2F" + fake(30, shift=4) + "%3D"
secret("slack cookie", f"cookie d={_s}; path=/", _s)
_s = "xox" + "e-1-" + fake(40, shift=6)
secret("slack refresh token", f"refresh_with {_s}", _s)
_s = "xa" + "pp-1-A0123ABCD-1234567890123-" + fake(64, HEX, 5)
secret("slack app token", f"SLACK_APP_TOKEN {_s}", _s)
_s = fake(24, shift=8)
secret(
    "slack webhook",
    "posting to https://hooks.sl" + f"ack.com/services/T0123ABCD/B0456EFGH/{_s} fails",
    _s,
)
_s = "sk" + "_live_" + fake(24, shift=10)
secret("stripe secret key", f"STRIPE key {_s} leaked in logs", _s)
_s = "rk" + "_live_" + fake(24, shift=11)
secret("stripe restricted key", f"restricted: {_s}", _s)
_s = "sk" + "_live_" + fake(99, shift=12)
secret("stripe long key", f"new-style key {_s}.", _s)
_s = "wh" + "sec_" + fake(32, shift=13)
secret("stripe webhook secret", f"webhook signing {_s}", _s)
for _prefix in ("ghp", "gho", "ghu", "ghs", "ghr"):
    _s = _prefix + "_" + fake(36, shift=len(SECRETS))
    secret(f"github {_prefix} token", f"git clone https://{_s}@github.com/acme/x.git", _s)
_s = "github" + "_pat_" + fake(22, shift=3) + "_" + fake(59, shift=7)
secret("github fine-grained token", f"GH token: {_s}", _s)
_s = "gl" + "pat-" + fake(20, shift=14)
secret("gitlab token", f"CI uses {_s} for the registry", _s)
secret("jwt", f"session cookie was {JWT} (expired?)", JWT)
secret("bearer jwt", f'curl -H "Authorization: Bearer {JWT}" https://api.internal/v1', JWT)
_s = fake(32, shift=15)
secret("bearer opaque token", f"Authorization: Bearer {_s}", _s)
_s = base64.b64encode(("deploy:" + fake(12, shift=16)).encode()).decode()
secret("basic auth header", f"Authorization: Basic {_s}", _s)
secret("rsa private key", f"here:\n{RSA_KEY}\nthanks", tuple(RSA_BODY))
secret("openssh private key", f"```\n{OPENSSH_KEY}\n```", tuple(OPENSSH_BODY))
secret("ec private key", EC_KEY, tuple(EC_BODY))
secret("pkcs8 private key", f"key.pem:\n{PKCS8_KEY}", tuple(PKCS8_BODY))
secret("encrypted private key", ENCRYPTED_KEY, tuple(ENCRYPTED_BODY))
secret("pgp private key", f"gpg export: {PGP_KEY}", tuple(PGP_BODY))
secret("private key on one line", " ".join(RSA_KEY.split()), tuple(RSA_BODY))
secret(
    "private key without its end",
    "\n".join(RSA_KEY.splitlines()[:-1]) + "\n\n(cut off, slack limit)",
    tuple(RSA_BODY),
)
_cut = " ".join(RSA_KEY.split())[:107]  # ends in a 10-character piece
secret("private key cut short", _cut + "…", _cut.split()[-1])
_s = "AI" + "za" + fake(35, ALNUM + "-_", 17)
secret("google api key", f"maps key={_s}", _s)
_s = "AK" + "IA" + fake(16, UPPER, 1)
secret("aws access key id", f"aws_access_key_id = {_s}", _s)
_s = "AS" + "IA" + fake(16, UPPER, 2)
secret("aws temporary key id", f"assumed role {_s} in us-east-1", _s)
secret("aws secret key, unquoted", f"aws_secret_access_key = {AWS_40}", AWS_40)
secret("aws secret key, env", f"export AWS_SECRET_ACCESS_KEY={AWS_40}", AWS_40)
secret("aws secret key, quoted", f'aws_secret = "{AWS_40}"', AWS_40)
secret("postgres url", f"DATABASE_URL=postgres://app:{DB_PW}@db.internal/pay", DB_PW)
_s = fake(16, shift=18)
secret("mysql url", f"mysql://root:{_s}@10.0.0.5:3306/orders", _s)
_s = fake(20, shift=19)
secret("redis url without user", f"redis://:{_s}@cache.internal:6379/0", _s)
_s = fake(12, shift=20)
secret("amqp url", f"broker amqp://guest:{_s}@rabbit:5672//", _s)
_s = fake(18, shift=21)
secret("mongodb srv url", f"mongodb+srv://svc:{_s}@cluster0.mongo.net/app", _s)
_s = fake(10, shift=22)
secret("https url with password", f"https://admin:{_s}@registry.internal/v2/", _s)
_s = fake(14, shift=23)
secret("PGPASSWORD", f"PGPASSWORD={_s} psql -h db -U app", _s)
_s = fake(14, shift=24)
secret("MYSQL_PWD", f"MYSQL_PWD={_s} mysql -h db", _s)
_s = fake(16, shift=25)
secret("POSTGRES_PASSWORD", f"env: POSTGRES_PASSWORD={_s}", _s)
_s = fake(16, shift=26)
secret("REDIS_PASSWORD in yaml", f"REDIS_PASSWORD: {_s}", _s)
secret("quoted password with spaces", "DB_PASS" + 'WORD="correct horse battery"', "horse battery")
_s = fake(32, HEX, 4)
secret("exported api key", f"export DATADOG_API_KEY={_s}", _s)
secret("password assignment", "password=hunter2", "hunter2")
secret("json password", json.dumps({"user": "svc", "pass" + "word": "hunter2!x"}), "hunter2!x")
_s = fake(24, shift=27)
secret("yaml api key", f"api_key: {_s}", _s)
_s = fake(28, shift=28)
secret("client secret", f"client_secret={_s}&grant_type=client_credentials", _s)
secret("password flag", "mysqldump --password=Tr0ub4dor3 orders", "Tr0ub4dor3")
_s = fake(20, shift=29)
secret("token flag", f"vault login --token {_s}", _s)
_s = fake(32, HEX, 6)
secret("api key header", f"X-Api-Key: {_s}", _s)
secret("email", "ping oncall.lead@acme-corp.io if it recurs", "oncall.lead@acme-corp.io")
secret("email at example domain", "mail ops@example.com", "ops@example.com")
_s = "sk" + "-proj-" + fake(48, shift=30)
secret("openai project key", f"OPENAI_API_KEY {_s}", _s)
_s = "sk" + "-" + fake(20, shift=31) + "T3Blbk" + "FJ" + fake(20, shift=32)
secret("openai legacy key", f"key {_s}", _s)
_s = "sk" + "-ant-api03-" + fake(40, shift=33)
secret("anthropic key", f"{_s} in the notebook", _s)
_s = "SG" + "." + fake(22, shift=1) + "." + fake(43, shift=2)
secret("sendgrid key", f"mailer uses {_s}", _s)
_s = "SK" + fake(32, HEX, 7)
secret("twilio api key", f"twilio {_s}", _s)
_s = fake(32, HEX, 8) + "-us12"
secret("mailchimp key", f"mc {_s}", _s)
_s = "np" + "m_" + fake(36, shift=3)
secret("npm token", f"//registry.npmjs.org/:_authToken={_s}", _s)
_s = "pypi-" + "AgEIcHlwaS5vcmc" + fake(70, ALNUM + "-_", 4)
secret("pypi token", f"TWINE_PASSWORD {_s}", _s)
_s = "M" + fake(23, shift=5) + "." + fake(6, shift=6) + "." + fake(27, shift=7)
secret("discord bot token", f"bot {_s}", _s)
_s = "123456789:" + fake(35, ALNUM + "_-", 8)
secret("telegram bot token", f"alerts bot {_s}", _s)
_s = "sq0" + "csp-" + fake(43, shift=9)
secret("square oauth secret", f"square {_s}", _s)
_s = fake(86, B64, 10) + "=="
secret(
    "azure storage key",
    f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={_s};EndpointSuffix=x",
    _s,
)

# Messages that look a little like secrets and must come back exactly as they were.
LOOKALIKES: list[str] = [
    "deployed 3f9c2a7b1e4d5f6a7b8c9d0e1f2a3b4c5d6e7f80 to prod",
    "reverted a1b2c3d, then cherry-picked 9e8d7c6b5a41 onto release/2.14",
    "git show 0123456789abcdef0123456789abcdef01234567 --stat",
    "fix is in commit 5d41402abc4b2a76b9719d911017c592 (md5 of the file)",
    "request id 123e4567-e89b-12d3-a456-426614174000 failed twice",
    "trace 9F1C3E2A-4B5D-4C6E-8F70-1A2B3C4D5E6F in Datadog",
    "JIRA-1234 tracks the fix; see also PAY-987 and OPS-12",
    "INC-20261122-001 declared by <@U0123ABCD>",
    "<@U0123ABCD> please take incident commander",
    "moving to <#C0123ABCD|inc-payments>",
    "paging <!subteam^S0456EFGH|@payments-oncall>",
    "see the thread at 1700000000.000100",
    "<https://acme.slack.com/archives/C0123ABCD/p1700000123456789|thread>",
    "dashboard: https://grafana.example.com/d/abc123/payments?orgId=1&from=now-1h",
    "PR https://github.com/acme/payments/pull/812 reverts it",
    "health check https://status.example.com:8443/health returns 200",
    "postgres://db.internal:5432/payments has no password in it",
    "redis://cache.internal:6379/0 is the cache",
    "version 2.14.3-rc.1 shipped at 14:02",
    "running v1.2.3+build.45 on canary",
    "10.0.12.7:5432 refused the connection",
    "192.168.1.20:6379 and [2001:db8::1]:443 are unreachable",
    "logs in /var/log/nginx/error.log and /etc/ssl/private/server.crt",
    r"config at C:\Program Files\Acme\config.yaml",
    f"image digest sha256:{hashlib.sha256(b'').hexdigest()}",
    f"pulled ghcr.io/acme/payments@sha256:{hashlib.sha256(b'payments').hexdigest()}",
    f"sha1:{hashlib.sha1(b'').hexdigest()} matches",
    "the payload was dGhpcyBpcyBhIHRlc3Q= in the log, base64 of a test string",
    "base64 of hello is aGVsbG8= obviously",
    "payments-api-7d9f8b6c5d-x2x4z is in CrashLoopBackOff",
    "kubectl logs checkout-worker-5b8c9d7f6-qwe12 -n prod --tail=200",
    "HTTP/1.1 503 Service Unavailable",
    "HTTP/2 429 Too Many Requests, Retry-After: 30",
    "SELECT id, status FROM incidents WHERE severity = 'sev1' ORDER BY declared_at DESC;",
    "UPDATE payments SET retries = retries + 1 WHERE id = 42;",
    "2026-11-22T10:15:03Z ERROR payments.charge timeout after 30000ms order=ord_8812",
    'level=warn msg="retrying" attempt=3 backoff=2s service=checkout',
    "token refresh failed, will retry in 5m",
    "password: reset it in the admin portal",
    "the password policy requires 12 characters",
    "rotate the API key tomorrow, the secret store is read-only",
    "max_tokens=512 token_type=bearer",
    "PWD=/home/app OLDPWD=/tmp",
    "Bearer auth is handled by the gateway",
    "Authorization header was missing on 3% of requests",
    "password=${DB_PASSWORD} comes from the environment",
    "api_key: <your-api-key>",
    "PGPASSWORD=**** psql -h db",
    "aws_access_key_id=" + "AK" + "IAIOSFODNN7" + "EXAMPLE from the docs",
    "cpu 93% on node ip-10-0-3-17.ec2.internal",
    "ETA 15:30 UTC, error rate 4.2%, p99 1.8s",
    "docker pull ghcr.io/acme/payments:1.4.2",
    "keyspace_hits:1023 keyspace_misses:77",
    "error: connection reset by peer (ECONNRESET)",
    'Traceback (most recent call last):\n  File "app.py", line 12, in <module>',
    "git commit -m 'fix token refresh race'",
    "bridge: +1 555 0100, pin 4821#",
    "the bearer of bad news: sk-learn is not a key",
    "OK, mitigated. Post-mortem on Friday 10:00.",
    "",
]


@pytest.mark.parametrize(
    ("message", "value"), [(m, v) for _, m, v in SECRETS], ids=[n for n, _, _ in SECRETS]
)
def test_every_secret_is_masked(message: str, value: str | tuple[str, ...]) -> None:
    masked = mask_secrets(message)
    for part in (value,) if isinstance(value, str) else value:
        assert part in message
        assert part not in masked
    assert "[masked " in masked


@pytest.mark.parametrize("message", LOOKALIKES)
def test_lookalikes_stay_as_they_are(message: str) -> None:
    assert mask_secrets(message) == message


def test_corpus_sizes() -> None:
    assert len(SECRETS) >= 50
    assert len(LOOKALIKES) >= 50
    assert len({name for name, _, _ in SECRETS}) == len(SECRETS)


def test_masking_keeps_the_surrounding_text() -> None:
    assert mask_secrets("before password=hunter2 after") == (
        "before password=[masked credential] after"
    )
    assert mask_secrets("db postgres://app:" + "s3cr3t-pw" + "@db/x down") == (
        "db postgres://app:[masked password]@db/x down"
    )
    token = "xox" + "b-1234567890123-1234567890123-" + fake(24)
    assert mask_secrets(f"<@U0123ABCD> used {token} in #ops.") == (
        "<@U0123ABCD> used [masked slack-bot-token] in #ops."
    )
    assert mask_secrets(f"Authorization: Bearer {JWT}\nnext line") == (
        "Authorization: Bearer [masked json-web-token]\nnext line"
    )
    assert mask_secrets("mail ops@example.com now") == "mail [masked email] now"
    quoted = '"pass' + 'word": '
    assert mask_secrets(quoted + '"hunter2!x",') == quoted + '"[masked credential]",'


def test_text_without_secrets_comes_back_unchanged() -> None:
    text = "\n".join(LOOKALIKES)
    assert mask_secrets(text) is text
    assert mask_secrets("") == ""


def test_a_multiline_private_key_is_masked_whole() -> None:
    message = f"found this in the repo:\n{OPENSSH_KEY}\nrotating it now"
    assert mask_secrets(message) == (
        "found this in the repo:\n[masked private-key]\nrotating it now"
    )
    assert mask_secrets(" ".join(RSA_KEY.split())) == "[masked private-key]"


def test_several_secrets_in_one_line_are_all_masked() -> None:
    cases = [(m, v) for _, m, v in SECRETS if "\n" not in m and isinstance(v, str)]
    line = " | ".join(message for message, _ in cases)
    masked = mask_secrets(line)
    assert len(cases) >= 50
    assert "\n" not in masked
    for _, value in cases:
        assert value not in masked
    assert masked.count("[masked ") >= len(cases)


def test_masking_twice_is_masking_once() -> None:
    everything = "\n".join(message for _, message, _ in SECRETS)
    once = mask_secrets(everything)
    assert mask_secrets(once) == once
    for _, message, _ in SECRETS:
        once = mask_secrets(message)
        assert mask_secrets(once) == once


def test_placeholders_and_low_entropy_values_stay() -> None:
    for message in (
        "token: <redacted>",
        "client_secret={{ vault_secret }}",
        "password=xxxxxxxx",
        "PGPASSWORD=$PGPASS psql",
        "sk-" + "a" * 30,  # too regular for a key
    ):
        assert mask_secrets(message) == message
    assert mask_secrets("sk-" + fake(30)) == "[masked api-key]"


def test_keywords_are_matched_case_insensitively() -> None:
    token = fake(32, shift=3)
    assert mask_secrets(f"BEARER {token}") == "BEARER [masked bearer-token]"
    assert mask_secrets(f"MySQL_Pwd={token}") == "MySQL_Pwd=[masked credential]"


def test_shannon_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert shannon_entropy(fake(64, HEX)) == pytest.approx(4.0)


def test_nearly_all_detect_secrets_plugins_are_used() -> None:
    rules = secret_rules.rules()
    skipped = secret_rules.skipped_plugins()
    plugin_ids = {rule.id for rule in rules if rule.groups == ()}
    assert len(plugin_ids) >= 20
    assert len(plugin_ids) / (len(plugin_ids) + len(skipped)) >= 0.9
    assert [name for name, _ in skipped] == ["IPPublicDetector"]
    assert all(isinstance(rule.pattern, re.Pattern) for rule in rules)
    assert all(keyword == keyword.lower() for rule in rules for keyword in rule.keywords)
    for expected in ("slack-token", "aws-access-key", "json-web-token", "private-key"):
        assert expected in plugin_ids
