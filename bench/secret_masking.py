"""Cost of masking secrets in an incident-channel transcript.

A transcript is made up of lines like those an incident channel collects: people's chatter
with mentions, ticket numbers and commit hashes, pasted log lines, URLs, Kubernetes pod
names, SQL, HTTP status lines, digests; one line in 200 carries a secret (a Slack, GitHub,
Stripe or AWS key, a JWT, a URL or environment password, an e-mail address, a short PEM
block). Lines are about 100 characters, so 10,000 lines are about 1 MB.

Measured for 1,000 and 10,000 lines: `bot.services.secret_masking.mask_secrets` on the whole
transcript, and the baseline in the same run: the hand-written list the review used before
the maintained rule set (`_OLD_SECRETS`, copied here from the former `bot/services/pir.py`
so that the baseline outlives its removal there). The two are measured `--rounds` times (3),
interleaved (the order flips each round), each time as the median of `--repeats` runs after
one warm-up run; each time is printed as the median of the rounds with min-max, and the
ratio new/old as the median of the per-round ratios with min-max, with the machine's cores
and the versions of Python and detect-secrets. The figures also say how many of the planted
secrets each left in the output (the same in every round, or the script fails), and the
targets are judged on the medians.

Run: `python bench/secret_masking.py [--repeats N] [--rounds N] [--lines 1000,10000]`.
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

from common import ROUNDS, cores, spread

from bot.services.secret_masking import mask_secrets

TARGET_MS = 1000.0  # 10,000 lines: well under a second
TARGET_LINES = 10_000

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


MASKERS = {"new": mask_secrets, "old": old_mask}


@dataclass
class Measured:
    """One masking on one transcript: the median time of each round, and the planted
    secrets it left (the same in every round)."""

    times: list[float]
    left: int


def _measure(text: str, planted: list[str], args: argparse.Namespace) -> dict[str, Measured]:
    """`args.rounds` medians of each masking, interleaved (the order flips each round)."""
    times: dict[str, list[float]] = {name: [] for name in MASKERS}
    left: dict[str, set[int]] = {name: set() for name in MASKERS}
    for number in range(args.rounds):
        names = list(MASKERS) if number % 2 == 0 else list(reversed(MASKERS))
        for name in names:
            seconds, masked = _median(MASKERS[name], text, args.repeats)
            times[name].append(seconds)
            left[name].add(sum(value in masked for value in planted))
    for name, counts in left.items():
        if len(counts) != 1:
            raise SystemExit(f"FAILED: the {name} masking left {sorted(counts)} secrets by round")
    return {name: Measured(times[name], left[name].pop()) for name in MASKERS}


def main() -> None:
    """Print the timings for each transcript size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per median")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved measurements")
    parser.add_argument("--lines", default="1000,10000")
    args = parser.parse_args()
    print(
        f"Secret masking: median of {args.repeats} runs after one warm-up, {args.rounds} rounds"
        " with the new and the old masking interleaved"
    )
    print(
        f"{cores()}; Python {platform.python_version()}, detect-secrets {version('detect-secrets')}"
    )
    print(
        f"{'lines':>6} {'bytes':>9} {'secrets':>7} {'new ms':>20} {'old ms':>20}"
        f" {'new/old':>16}   (median of the rounds, min-max)"
    )
    verdicts = []
    for lines in (int(n) for n in args.lines.split(",")):
        text, planted = transcript(lines)
        found = _measure(text, planted, args)
        new, old = found["new"], found["old"]
        ratios = [n / o for n, o in zip(new.times, old.times, strict=True)]
        print(
            f"{lines:>6} {len(text.encode()):>9} {len(planted):>7}"
            f" {spread([1000 * t for t in new.times], 1):>20}"
            f" {spread([1000 * t for t in old.times], 1):>20} {spread(ratios):>16}"
            f"   secrets left: new {new.left}, old {old.left}"
        )
        verdicts.append(
            f"{lines:,} lines, planted secrets left: {new.left}"
            f" (target 0: {'met' if not new.left else 'MISSED'})"
        )
        if lines == TARGET_LINES:
            median_ms = 1000 * statistics.median(new.times)
            met = median_ms < TARGET_MS
            verdicts.append(
                f"{lines:,} lines, median time: {median_ms:.1f} ms"
                f" (target < {TARGET_MS:g} ms: {'met' if met else 'MISSED'})"
            )
    for verdict in verdicts:
        print(f"new masking, {verdict}")


if __name__ == "__main__":
    main()
