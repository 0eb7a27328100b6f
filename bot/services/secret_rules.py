"""The rules that find secrets for `bot.services.secret_masking`, and where they come from:

1. detect-secrets (Yelp, Apache-2.0), a runtime dependency: every regex-based detector plugin
   it ships (``detect_secrets.plugins``: AWS, Slack, Stripe, GitHub, GitLab, JWT, private key
   headers, SendGrid, Twilio, npm, PyPI, ...) is loaded at first use by ``_plugin_rules``.
   Each plugin's patterns become rules here; plugins that find things which are not secrets
   (public IP addresses) are skipped with a logged reason. To update them, raise the
   ``detect-secrets`` range in ``pyproject.toml``, reinstall, and run
   ``pytest tests/test_secret_masking.py``: the corpus there says whether the new rules still
   mask every secret and leave every look-alike alone. A new plugin is picked up on its own;
   give it keywords in ``_PLUGIN_KEYWORDS`` so that it only runs on text that can hold its
   secret.
2. ``_SUPPLEMENT_FIRST`` and ``_SUPPLEMENT_LAST``: our own rules, for what detect-secrets does
   not find or cannot mask precisely (whole PEM blocks, passwords in URLs, newer Slack, GitHub,
   Stripe and OpenAI token shapes, Google API keys, unquoted AWS secret keys, credential
   assignments such as ``PGPASSWORD=``, Authorization headers, e-mail addresses).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import detect_secrets.plugins
from detect_secrets.plugins.base import RegexBasedDetector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """One way to find a secret: a pattern, which part of a match is the secret, and filters."""

    id: str
    pattern: re.Pattern[str]
    # Case-insensitive pre-filter: the rule runs only on text holding one of these.
    keywords: tuple[str, ...] = ()
    # The secret's group(s), first one that took part wins; () means "pick" (plugin rules):
    # the longest group of 8 or more characters, else the whole match, trimmed and extended.
    groups: tuple[int | str, ...] = (0,)
    # Minimum Shannon entropy (bits per character) of the secret.
    entropy: float = 0.0
    # Whether a placeholder value (${VAR}, <token>, ****, an example) is left alone.
    placeholders: bool = True
    # Whether a match may span more than three lines: then the whole text is searched, not
    # just the lines around each keyword.
    multiline: bool = False


def _rule(
    rule_id: str,
    pattern: str,
    keywords: Iterable[str],
    *,
    groups: tuple[int | str, ...] = (0,),
    entropy: float = 0.0,
    flags: int = 0,
    placeholders: bool = True,
    multiline: bool = False,
) -> Rule:
    """A supplement rule, its keywords lower-cased."""
    return Rule(
        rule_id,
        re.compile(pattern, flags),
        tuple(k.lower() for k in keywords),
        groups,
        entropy,
        placeholders,
        multiline,
    )


def _slack(rule_id: str, prefix: str) -> Rule:
    """A Slack token rule for one token prefix (``xoxb-``, ``xapp-``, ...)."""
    return _rule(
        rule_id,
        rf"\b{prefix}-[A-Za-z0-9%_-]{{8,}}(?:\.[A-Za-z0-9%_-]+)*",
        [prefix + "-"],
    )


# Credential names in assignments: PGPASSWORD, MYSQL_PWD, db.password, client_secret,
# X-Api-Key, access_token, aws_secret_access_key... A bare PWD (the working directory) and
# names that merely continue past the word (token_type, max_tokens) are not credentials.
# The name is matched from its last word on, so that the search can start at a keyword.
_CREDENTIAL_NAME = (
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|secret[_-]?key|[_.-]pwd)(?![\w-])"
)


_VALUE = r"(?P<bare>[^\s,;&'\"`]+)"


# -- Our own rules -------------------------------------------------------------------------
# Only for what detect-secrets misses or masks imprecisely; each says why it is here. The
# order matters where matches overlap: an earlier rule's match wins, so specific rules come
# first, detect-secrets' rules next (see _loaded), the generic ones last.
_SUPPLEMENT_FIRST: tuple[Rule, ...] = (
    # Whole PEM private key blocks, also pasted without their END line, cut short ("…") or
    # squeezed onto one line; detect-secrets only finds the BEGIN line.
    _rule(
        "private-key",
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\w\s+/=:,.()-]{0,20000}?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:\s*(?:[A-Za-z-]+:[^\n]*|[A-Za-z0-9+/=]{16,}))*"
        r"(?:\s*[A-Za-z0-9+/=]{1,15}(?=…|\.\.\.))?)",
        ["private key"],
        multiline=True,
    ),
    # Passwords in URLs: scheme, user and host stay. detect-secrets' basic-auth pattern is
    # greedy across the URL, so its match is not the password alone.
    _rule(
        "password",
        r"://(?<=[a-z0-9+.-]://)[^\s:/@]*:(?P<secret>[^\s@/]+)@",
        ["://"],
        groups=("secret",),
        flags=re.IGNORECASE,
    ),
    # Slack tokens. detect-secrets knows only xox[abposr]- followed by digit groups; client
    # (xoxc), cookie (xoxd), refresh (xoxe) and app-level (xapp) tokens are missed.
    _slack("slack-bot-token", "xoxb"),
    _slack("slack-user-token", "xoxp"),
    _slack("slack-client-token", "xoxc"),
    _slack("slack-cookie-token", "xoxd"),
    _slack("slack-refresh-token", "xoxe"),
    _slack("slack-app-token", "xapp"),
    _slack("slack-token", "xox[aors]"),
    # GitHub fine-grained tokens (github_pat_) are missed; classic ones are only found at
    # exactly 36 characters after the prefix.
    _rule(
        "github-token",
        r"\b(?:github_pat_[A-Za-z0-9_]{22,}|gh[pousr]_[A-Za-z0-9]{20,})",
        ["github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    ),
    # Stripe test-mode keys and webhook signing secrets; detect-secrets only knows live keys.
    _rule(
        "stripe-key",
        r"\b(?:[sr]k_test_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})",
        ["k_test_", "whsec_"],
    ),
    # Google API keys: not in detect-secrets.
    _rule("gcp-api-key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", ["aiza"]),
    # AWS secret access keys outside quotes (detect-secrets wants them quoted).
    _rule(
        "aws-secret-access-key",
        r"(?i)aws_?secret_?access_?key[\"']?\s*(?:=|:)\s*[\"']?"
        r"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        ["secret_access_key", "secretaccesskey"],
        groups=("secret",),
    ),
    # OpenAI/Anthropic-style sk- keys; detect-secrets only knows OpenAI's older shape.
    _rule(
        "api-key",
        r"\bsk-(?:[a-z]+-)?[A-Za-z0-9_-]{20,}",
        ["sk-"],
        entropy=3.0,
    ),
)


_SUPPLEMENT_LAST: tuple[Rule, ...] = (
    # Authorization headers: the scheme word stays.
    _rule(
        "bearer-token",
        r"(?i)\bbearer\s+(?P<secret>(?=[\w.~+/-]*\d)[\w.~+/-]{8,}=*|[\w.~+/-]{24,}=*)",
        ["bearer"],
        groups=("secret",),
    ),
    _rule(
        "basic-auth",
        r"(?i)\bauthorization\s*:\s*basic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})",
        ["basic"],
        groups=("secret",),
    ),
    # Command-line flags: --password hunter2, --token=abc.
    _rule(
        "credential",
        r"(?i)(?<![\w-])--(?:password|passwd|token|api-key|secret)(?:=|\s+)" + _VALUE,
        ["--"],
        groups=("bare",),
    ),
    # Credential assignments: PGPASSWORD=..., MYSQL_PWD=..., password="...", "token": "...",
    # api_key => ...; the name and the operator stay. "name: value" is also prose ("password:
    # reset it in the portal"), so there an unquoted value of plain lower-case letters is
    # masked only where no other word follows it.
    _rule(
        "credential",
        r"(?i)" + _CREDENTIAL_NAME + r"[\"']?(?:"
        r"\s*(?::=|=>|=|:)\s*(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)')"
        r"|\s*(?::=|=>|=)\s*" + _VALUE + r"|[ \t]*:[ \t]*(?-i:"
        r"(?P<colon>[^\s,;&'\"`]*[^a-z\s,;&'\"`][^\s,;&'\"`]*)"
        r"|(?P<word>[a-z]+)(?![a-z]|[ \t]+\w)))",
        ["pass", "pwd", "secret", "token", "key"],
        groups=("dq", "sq", "bare", "colon", "word"),
    ),
    # E-mail addresses (as the review always masked them), example domains too.
    _rule(
        "email",
        r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
        ["@"],
        placeholders=False,
    ),
)


# -- detect-secrets ------------------------------------------------------------------------
# Plugins that find things which are not secrets.
_PLUGIN_SKIP = {"IPPublicDetector": "public IP addresses are not secrets"}


# Keywords per plugin (lower case), after gitleaks' idea: a plugin runs only on text that
# holds one of them. A plugin missing here always runs.
_PLUGIN_KEYWORDS: dict[str, tuple[str, ...]] = {
    "ArtifactoryDetector": ("akc", "ap"),
    "AWSKeyDetector": ("akia", "asia", "abia", "acca", "a3t", "aws"),
    "AzureStorageKeyDetector": ("accountkey",),
    "BasicAuthDetector": ("://",),
    "CloudantDetector": ("cl",),
    "DiscordBotTokenDetector": (".",),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": ("gl", "gr1348941"),
    "IbmCloudIamDetector": ("key", "pwd", "pass", "token"),
    "IbmCosHmacDetector": ("secret",),
    "JwtTokenDetector": ("eyj",),
    "MailchimpDetector": ("-us",),
    "NpmDetector": ("_authtoken",),
    "OpenAIDetector": ("t3blbkfj",),
    "PrivateKeyDetector": ("private key", "putty-user-key-file"),
    "PypiTokenDetector": ("pypi-",),
    "SendGridDetector": ("sg.",),
    "SlackDetector": ("xox", "hooks.slack.com"),
    "SoftlayerDetector": ("sl",),
    "SquareOAuthDetector": ("sq0csp-",),
    "StripeDetector": ("k_live_",),
    "TelegramBotTokenDetector": (":",),
    "TwilioKeyDetector": ("ac", "sk"),
}


def _rule_id(secret_type: str) -> str:
    """A plugin's secret type as a marker label: 'GitHub Token' -> 'github-token'."""
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def _plugin_rules() -> tuple[list[Rule], list[tuple[str, str]]]:
    """Rules from detect-secrets' regex-based plugins, and the plugins skipped with why."""
    rules: list[Rule] = []
    skipped: list[tuple[str, str]] = []
    infos = sorted(pkgutil.iter_modules(detect_secrets.plugins.__path__), key=lambda m: m.name)
    for info in infos:
        module = importlib.import_module(f"detect_secrets.plugins.{info.name}")
        for name, cls in sorted(vars(module).items()):
            if not (
                isinstance(cls, type)
                and issubclass(cls, RegexBasedDetector)
                and cls.__module__ == module.__name__
                and isinstance(getattr(cls, "secret_type", None), str)
            ):
                continue
            if name in _PLUGIN_SKIP:
                skipped.append((name, _PLUGIN_SKIP[name]))
                log.info("secret masking: skipped %s: %s", name, _PLUGIN_SKIP[name])
                continue
            patterns = getattr(cls, "denylist", ())
            if not isinstance(patterns, list | tuple) or not all(
                isinstance(p, re.Pattern) and isinstance(p.pattern, str) for p in patterns
            ):
                reason = "its denylist is not a sequence of compiled text patterns"
                skipped.append((name, reason))
                log.warning("secret masking: skipped %s: %s", name, reason)
                continue
            rule_id = _rule_id(str(cls.secret_type))
            keywords = _PLUGIN_KEYWORDS.get(name, ())
            rules.extend(Rule(rule_id, p, keywords, ()) for p in patterns)
    return rules, skipped


@lru_cache(maxsize=1)
def _loaded() -> tuple[tuple[Rule, ...], tuple[tuple[str, str], ...]]:
    """All rules in the order they claim text, and the skipped plugins."""
    plugin_rules, skipped = _plugin_rules()
    return (*_SUPPLEMENT_FIRST, *plugin_rules, *_SUPPLEMENT_LAST), tuple(skipped)


def rules() -> tuple[Rule, ...]:
    """Every rule in use, in the order in which they claim text."""
    return _loaded()[0]


def skipped_plugins() -> tuple[tuple[str, str], ...]:
    """The detect-secrets plugins not used, each with the reason."""
    return _loaded()[1]
