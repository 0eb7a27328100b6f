"""Request encodings: how slack_sdk sends each Web API method, and how a request came in.

slack_sdk's `WebClient` named methods choose the encoding per method: a JSON body for
the methods Slack reads JSON for (`chat.postMessage`, `views.open`, ...), form parameters
for the others. Slack does not read a JSON body sent to one of those others, so the fake
refuses it. The table is read from the SDK's own source, so an SDK upgrade that moves a
method to JSON (or off it) is followed without a hand-kept list.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Mapping
from functools import cache

from slack_sdk import WebClient

from .methods import SlackError
from .server import HttpRequest
from .spec import MethodSpec
from .state import Encoding


def _declared(call: ast.Call) -> Encoding:
    """The encoding of one `self.api_call("<method>", ...)` from its keyword arguments."""
    keywords = {
        kw.arg: kw.value
        for kw in call.keywords
        if kw.arg is not None
        and not (isinstance(kw.value, ast.Constant) and kw.value.value is None)
    }
    if "json" in keywords:
        return "json"
    if "files" in keywords:
        return "multipart"
    verb = keywords.get("http_verb")
    if isinstance(verb, ast.Constant) and verb.value == "GET":
        return "query"
    return "form"


@cache
def sdk_encodings() -> Mapping[str, Encoding]:
    """The encoding each `WebClient` named method declares for its Web API method.

    Read from every method of the class: the keyword arguments of its
    `self.api_call("<method>", ...)`. `json=` is a JSON body, `files=` multipart,
    `http_verb="GET"` the query string, anything else a form body. (The synchronous
    `WebClient` posts every call, so it sends a declared query string as a form body;
    `AsyncWebClient` sends it as a GET.) Composite helpers such as `files_upload_v2`
    call other named methods, not `api_call`, and add nothing of their own. A method sent
    two ways (`files.upload`: a file as multipart, text content as a form) keeps the first.
    """
    found: dict[str, Encoding] = {}
    for name, function in inspect.getmembers(WebClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError):
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "api_call"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, _declared(node))
    return found


def accepts_json(method: str) -> bool:
    """Whether Slack reads a JSON body for `method`: slack_sdk sends it one (or, for a
    method the SDK does not wrap, nothing says otherwise)."""
    return sdk_encodings().get(method, "json") == "json"


def request_encoding(request: HttpRequest) -> Encoding:
    """How a Web API request carried its arguments, by HTTP method and Content-Type."""
    if request.method != "POST":
        return "query"
    media_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if media_type == "application/json":
        return "json"
    if media_type == "multipart/form-data":
        return "multipart"
    if not media_type and not request.body:
        return "query"
    return "form"


def json_body_refused(spec: MethodSpec) -> SlackError:
    """Slack's answer to a JSON body for a method it reads only form parameters for.

    Slack does not parse the body, so every argument is missing, and it answers
    `invalid_arguments` (reported for files.getUploadURLExternal /
    files.completeUploadExternal, conversations.replies and search.messages) naming the
    missing required fields. For methods without required arguments Slack would go on with
    none, silently dropping what was sent; the fake refuses those too, so a test notices.
    """
    messages = [f"[ERROR] missing required field: {arg}" for arg in spec.required_args]
    encoding = sdk_encodings().get(spec.name, "form")
    messages.append(
        f"[ERROR] {spec.name} does not read a JSON body; slack_sdk sends it as {encoding}"
    )
    return SlackError("invalid_arguments", response_metadata={"messages": messages})
