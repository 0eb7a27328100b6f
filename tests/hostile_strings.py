# ruff: noqa: RUF001 - look-alike characters are the point of this corpus
"""A corpus of hostile strings for every text entry: what people paste, what JSON can carry,
what templates and databases choke on. At least 200, each a distinct case."""

from __future__ import annotations

# Control characters, one by one (NUL included; tab and newline are ordinary text).
CONTROLS = [f"ctl {code:02x} [{chr(code)}] end" for code in range(0x20) if code not in (9, 10)]
CONTROLS += ["del [\x7f] end", "crlf line\r\nnext", "lone cr\rnext", "nul\x00\x00\x00nul"]

# Lone UTF-16 surrogates, as JSON can carry them ("\ud800").
SURROGATES = [
    "\ud800",
    "half emoji \ud83d",
    "trailing half \ude00",
    "\udfff at start",
    "mixed \ud83d\ude00 whole and \ud83d half",
    "two lows \udc00\udc01",
    "high then text \udbff text",
    "surrogate in a word pass\ud800word",
]

BIDI = [
    "\u202eevil.exe\u202c txt",
    "\u202aleft\u202c \u202bright\u202c",
    "\u2066isolate\u2069 \u2067rtl\u2069 \u2068first\u2069",
    "\u200fmark\u200e",
    "admin\u202e@example.com",
    "\u061c arabic letter mark",
    "שלום עולם mixed with english",
    "مرحبا بالعالم incident",
]

INVISIBLE = [
    "zero\u200bwidth\u200bspace",
    "joiner\u200dnon\u200cjoiner",
    "\ufeffbom at start",
    "word\u2060joiner",
    "soft\u00adhyphen",
    "\u180emongolian vowel separator",
    "\u3164hangul filler",
    "\u115fchoseong filler",
    "variation\ufe0fselector",
    "   ",
]

COMBINING = [
    "Z\u0335\u0351a\u0337\u0356l\u0334\u0317g\u0336\u031fo\u0338\u0349",
    "e\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301",
    "a" + "\u0300" * 200,
    "\u0301 combining at start",
    "t\u0336e\u0336s\u0336t\u0336",
]

EMOJI = [
    "👩\u200d👩\u200d👧\u200d👦 family",
    "🏳️\u200d🌈 flag",
    "🇩🇪🇺🇸🇯🇵",
    "👍🏽👍🏿",
    "🔥" * 500,
    "emoji at the end 🚨",
    ":rotating_light: :skull:",
    "𝕳𝖊𝖑𝖑𝖔 math letters",
    "𓀀 hieroglyph",
    "🧑🏻\u200d💻 coder",
]

CJK_AND_SCRIPTS = [
    "数据库宕机了",
    "データベースが落ちました",
    "데이터베이스가 다운되었습니다",
    "Ελληνικά κείμενο",
    "Кириллица: база данных упала",
    "ไทย ภาษา",
    "हिन्दी पाठ",
    "ᚠᛇᚻ runes",
]

SLACK = [
    "<!channel> db down",
    "<!here> please look",
    "<!everyone> outage",
    "<!channel|channel> labelled",
    "@channel plain",
    "@here plain",
    "@everyone plain",
    "<@U0ALICE> was it you",
    "<@U0ALICE|alice> labelled",
    "<!subteam^S0123|@oncall> page",
    "<#C0GENERAL|general> link",
    "<#C0GENERAL>",
    "<https://evil.example|https://bank.example>",
    "<http://x.example>",
    "<mailto:a@b.example|a@b.example>",
    "<!date^1700000000^{date}|fallback>",
    "&amp; &lt; &gt; already escaped",
    "a < b > c & d",
    "<<>>&&",
    "*bold* _italic_ ~strike~ `code` ```block```",
    "> quoted\n> more",
    ":slack: :not-an-emoji-at-all:",
    "<@U0ALICE><@U0BOB><!here>",
    "<!subteam^S0123>",
    "<javascript:alert(1)|click>",
]

TEMPLATE = [
    "{{ 7 * 7 }}",
    "{{ config }}",
    "{{ self.__init__.__globals__ }}",
    "{% for x in range(10) %}x{% endfor %}",
    "{# comment #}",
    "{%- raw -%}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "{{''.__class__.__mro__[1].__subclasses__()}}",
    "{0} {1} {} %s %d %(name)s",
    "%x%x%x%x%n",
    "{{ incident.reporter_id }}",
    "}}{{",
    "{% endif %}",
]

SQL_AND_CODE = [
    "'; DROP TABLE incident; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM timeline_event;--",
    "\\x00\\n\\t escaped backslashes",
    "C:\\Windows\\System32",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    '{"json": "inside", "n": [1, 2, 3]}',
    "SELECT * FROM incident WHERE 1=1",
    "$(rm -rf /)",
    "`rm -rf /`",
    "|| true",
    "\\",
    "''''''''",
    '""""""',
    "/* comment */ -- trailing",
    "%00 url-encoded nul",
    "%27 %22 %3C",
    "\\u0000 written out",
]

MARKDOWN = [
    "| a | b |",
    "|---|---|",
    "cell | with | pipes",
    "# heading",
    "## second",
    "- list\n- items",
    "1. numbered",
    "[link](https://x.example)",
    "![image](https://x.example/i.png)",
    "---",
    "***",
    "<details>html</details>",
    "line one\n\n\nline four",
    "trailing spaces   ",
    "\ttabbed\ttext",
]

LONG = [
    "x" * 5_000,
    "word " * 1_200,
    "a" * 40_000,
    ("line\n" * 2_000),
    "&" * 3_000,
    "<" * 3_000,
    "|" * 3_000,
    "🚨" * 3_000,
    "\u202e" * 1_000,
    "long title " * 20,
]

NUMBERS_AND_FORMATS = [
    "0",
    "-1",
    "1e309",
    "NaN",
    "Infinity",
    "null",
    "None",
    "true",
    "undefined",
    "2026-11-26T14:05:00Z",
    "INC-20261126-001",
    "U0ALICE",
    "C0GENERAL",
    "S0123",
    "1700000000.000100",
]

MISC = [
    "normal text for comparison",
    "ünïcödé àccents",
    "ﬁ ligature ﬀ",
    "ｆｕｌｌｗｉｄｔｈ",
    "ℌ𝔢𝔩𝔩𝔬",
    "¯\\_(ツ)_/¯",
    "( ͡° ͜ʖ ͡°)",
    "\u00a0non-breaking\u00a0spaces\u00a0",
    "\u2028line separator\u2029para separator",
    "\u0085next line char",
    "tab\there",
    "emoji 🚨 and nul \x00 together",
    "surrogate \ud800 and nul \x00 and bidi \u202e together",
    "quote \" and apostrophe ' and backtick `",
    "percent %% and dollar $$",
    "trailing backslash \\",
    "question ???",
    "exclamation !!!",
    "ellipsis … and dashes — –",
    "mixed\r\nline\rendings\n",
]

CORPUS: list[str] = [
    *CONTROLS,
    *SURROGATES,
    *BIDI,
    *INVISIBLE,
    *COMBINING,
    *EMOJI,
    *CJK_AND_SCRIPTS,
    *SLACK,
    *TEMPLATE,
    *SQL_AND_CODE,
    *MARKDOWN,
    *LONG,
    *NUMBERS_AND_FORMATS,
    *MISC,
]

assert len(CORPUS) >= 200, len(CORPUS)
assert len(set(CORPUS)) == len(CORPUS), "the corpus has duplicates"
