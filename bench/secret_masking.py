"""Cost of masking secrets in an incident-channel transcript.

A transcript is made up of lines like those an incident channel collects: people's chatter
with mentions, ticket numbers and commit hashes, pasted log lines, URLs, Kubernetes pod
names, SQL, HTTP status lines, digests; one line in 200 carries a secret (a Slack, GitHub,
Stripe or AWS key, a JWT, a URL or environment password, an e-mail address, a short PEM
block). Lines are about 100 characters, so 10,000 lines are about 1 MB.

Measured, as the median of `--repeats` runs after one warm-up run, for 1,000 and 10,000
lines: `bot.services.secret_masking.mask_secrets` on the whole transcript, and the baseline
in the same run: the hand-written list the review used before (`_OLD_SECRETS`, copied here
from `bot/services/pir.py` so that the baseline outlives its removal there), and their ratio.
The figures also say how many of the planted secrets each left in the output.

Run: `python bench/secret_masking.py [--repeats N] [--lines 1000,10000]`.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.services.secret_masking import mask_secrets

# The review's list before the rule set, as a baseline.
_OLD_SECRETS = [
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}"), "[masked Slack token]"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"), "[masked Slack token]"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[masked AWS key]"),
    (
        re.compile(
            r"(?i)\b(aws_secret_access_key|secret|password|passwd|api[_-]?key|token)"
            r"(\s*[:=]\s*)[^\s,;]+"
        ),
        r"\1\2[masked]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer [masked]"),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9]{20,})\b"), "[masked token]"),
    (re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s@/]+@", re.IGNORECASE), r"\1:[masked]@"),
    (re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), "[masked email]"),
]


def old_mask(text: str) -> str:
    """The review's masking before the rule set."""
    for pattern, replacement in _OLD_SECRETS:
        text = pattern.sub(replacement, text)
    return text


ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdef"
_PROSE = (
    "checkout latency is up again after the deploy, looking at the dashboards now; "
    "rolled back the canary and error rate is dropping but p99 still high; "
    "db connections saturated, bumping the pool and restarting the workers; "
    "customer reports from support about failed card payments in the eu region"
)
WORDS = re.findall(r"\S+", _PROSE)


def _tok(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _ts(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"


def _chatter(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 16)))
    return f"[{_ts(rng)}] <@U0{_tok(rng, 8, HEX.upper())}> {words}"


def _ordinary(rng: random.Random) -> str:
    n = rng.randint
    kind = rng.randrange(9)
    if kind == 0:
        return (
            f"2026-11-22T{_ts(rng)}Z ERROR payments.charge timeout after {n(1000, 30000)}ms "
            f"order=ord_{n(1000, 9999)} trace={_tok(rng, 32, HEX)}"
        )
    if kind == 1:
        return (
            f"deployed {_tok(rng, 40, HEX)} to prod, reverted {_tok(rng, 7, HEX)} "
            f"(JIRA-{n(100, 9999)})"
        )
    if kind == 2:
        return (
            f"dashboard https://grafana.example.com/d/{_tok(rng, 8)}/payments?orgId=1&from=now-1h "
            f"see thread 1700{n(100000, 999999)}.000{n(100, 999)}"
        )
    if kind == 3:
        pod = f"payments-api-{_tok(rng, 10, HEX)}-{_tok(rng, 5, HEX)}"
        return f"{pod} CrashLoopBackOff on ip-10-0-{n(0, 255)}-{n(0, 255)}.ec2.internal"
    if kind == 4:
        return (
            "SELECT id, status FROM payments WHERE created_at > now() - interval '1 hour' "
            f"AND id = {n(1, 99999)};"
        )
    if kind == 5:
        return (
            f"HTTP/1.1 503 Service Unavailable from 10.0.{n(0, 255)}.{n(0, 255)}:8443 "
            f"after {n(1, 60)}s"
        )
    if kind == 6:
        digest = _tok(rng, 64, HEX)
        return f"image ghcr.io/acme/payments@sha256:{digest} v2.{n(0, 20)}.{n(0, 9)}"
    if kind == 7:
        uuid = "-".join(_tok(rng, k, HEX) for k in (8, 4, 4, 4, 12))
        return f"INC-20261122-{n(1, 999):03d} request {uuid} failed"
    return _chatter(rng)


def _secret(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(9)
    if kind == 0:
        value = "xox" + "b-" + f"{rng.randint(10**12, 10**13)}-{rng.randint(10**12, 10**13)}-"
        value += _tok(rng, 24)
        return f"bot token is {value} please rotate", value
    if kind == 1:
        value = "gh" + "p_" + _tok(rng, 36)
        return f"git clone https://{value}@github.com/acme/payments.git", value
    if kind == 2:
        value = "sk" + "_live_" + _tok(rng, 24)
        return f"STRIPE_KEY {value} was in the logs", value
    if kind == 3:
        value = _tok(rng, 40, ALNUM + "/+")
        return f"aws_secret_access_key = {value}", value
    if kind == 4:
        value = "ey" + "J" + _tok(rng, 30) + ".eyJ" + _tok(rng, 40) + "." + _tok(rng, 43)
        return f"Authorization: Bearer {value}", value
    if kind == 5:
        value = _tok(rng, 16)
        return f"DATABASE_URL=postgres://app:{value}@db.internal:5432/payments", value
    if kind == 6:
        value = _tok(rng, 14)
        return f"PGPASSWORD={value} psql -h db.internal -U app payments", value
    if kind == 7:
        value = f"{_tok(rng, 8, 'abcdefghij')}.{_tok(rng, 6, 'klmnopqrst')}@acme-corp.io"
        return f"ping {value} if it happens again", value
    body = _tok(rng, 64, ALNUM + "+/")
    begin = "-----" + "BEGIN RSA PRIVATE " + "KEY-----"
    end = "-----" + "END RSA PRIVATE " + "KEY-----"
    return f"{begin} {body} {end}", body


def transcript(lines: int, seed: int = 7) -> tuple[str, list[str]]:
    """A transcript of so many lines, and the secrets planted in it."""
    rng = random.Random(seed)
    out: list[str] = []
    planted: list[str] = []
    for i in range(lines):
        if i % 200 == 199:
            line, value = _secret(rng)
            planted.append(value)
            out.append(line)
        else:
            out.append(_ordinary(rng))
    return "\n".join(out) + "\n", planted


def _median(func: Callable[[str], str], text: str, repeats: int) -> tuple[float, str]:
    result = func(text)  # warm-up (and the rules' first load)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = func(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    """Print the timings for each transcript size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lines", default="1000,10000")
    args = parser.parse_args()
    print(f"{'lines':>6} {'bytes':>9} {'secrets':>7} {'new ms':>8} {'old ms':>8} {'new/old':>7}")
    for lines in (int(n) for n in args.lines.split(",")):
        text, planted = transcript(lines)
        new, masked = _median(mask_secrets, text, args.repeats)
        old, old_masked = _median(old_mask, text, args.repeats)
        left_new = sum(value in masked for value in planted)
        left_old = sum(value in old_masked for value in planted)
        print(
            f"{lines:>6} {len(text.encode()):>9} {len(planted):>7} {new * 1000:>8.1f} "
            f"{old * 1000:>8.1f} {new / old:>7.2f}   secrets left: new {left_new}, old {left_old}"
        )


if __name__ == "__main__":
    main()
