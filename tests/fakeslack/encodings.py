"""Request encodings: how a Web API request to the fake carried its arguments."""

from __future__ import annotations

from .server import HttpRequest
from .state import Encoding


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
