"""Sharing files in a channel, in the three steps of `WebClient.files_upload_v2`, each on
the client its retry rule needs (a part of the gateway, `bot.slack.gateway`)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.slack.webapi import SlackCallFailed


class FileUploads:
    """File uploads, for the gateway: it provides `client` and `_call`."""

    client: WebClient

    def _call(  # SlackGateway._call: the one way a call is made and observed
        self,
        method: str,
        call: Callable[[WebClient], SlackResponse],
        *,
        creates: bool = False,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def upload_file(
        self, channel: str, *, filename: str, content: bytes, title: str, comment: str
    ) -> str:
        """Share a file in a channel with a comment (Slack's external upload); its file ID."""
        return self.upload_files(channel, [(filename, content, title)], comment=comment)[0]

    def _upload_url(self, filename: str, size: int) -> dict[str, Any]:
        return self._call(
            "files.getUploadURLExternal",
            lambda c: c.files_getUploadURLExternal(filename=filename, length=size),
        )

    def upload_files(
        self,
        channel: str,
        files: list[tuple[str, bytes, str]],
        *,
        comment: str,
        thread_ts: str | None = None,
    ) -> list[str]:
        """Share files (name, bytes, title) in one message with a comment; their IDs.

        The three steps of `WebClient.files_upload_v2`, each on the client its retry rule
        needs: asking for an upload URL and sending the bytes are safe to repeat (Slack
        discards a file never completed); sharing them (completeUploadExternal) posts a
        message, so it is not retried after a 5xx or a timeout.
        """
        ids = []
        for filename, content, _ in files:
            ticket = self._upload_url(filename, len(content))
            request = urllib.request.Request(  # noqa: S310 - Slack's own https upload URL
                str(ticket["upload_url"]), data=content, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.client.timeout) as response:  # noqa: S310
                    response.read()
            except (URLError, TimeoutError, ConnectionError) as exc:
                raise SlackCallFailed("files.getUploadURLExternal", "upload_failed") from exc
            ids.append(str(ticket["file_id"]))
        shared: list[dict[str, str | None]] = [
            {"id": file_id, "title": title}
            for file_id, (_, _, title) in zip(ids, files, strict=True)
        ]
        self._call(
            "files.completeUploadExternal",
            lambda c: c.files_completeUploadExternal(
                files=shared,
                channel_id=channel,
                initial_comment=comment,
                thread_ts=thread_ts,
            ),
            creates=True,
        )
        return ids
