"""A sans-I/O Server-Sent Events decoder that works on bytes.

``SSEDecoder.feed(chunk)`` takes whatever the network delivered and returns the complete
events it finished; ``flush()`` ends the stream. It follows the WHATWG rules that matter for
GLM: lines end at CR, LF or CRLF (a CRLF split across two chunks counts once); a line that
starts with ``:`` is a comment (keep-alive); ``data:`` may or may not have a space after the
colon; several ``data`` lines join with LF; a blank line dispatches the event.

Why bytes: GLM sends raw UTF-8, and a CJK character is routinely split across two network
chunks. Lines are found with ``bytes.split`` (which only knows CR and LF, unlike
``str.splitlines``, which also splits on U+2028/U+2029/U+0085 that appear raw inside JSON
strings), and the event payload stays bytes so ``json``/pydantic decode each complete frame
once. Nothing is ever decoded per network chunk.

Two forms of output: :meth:`SSEDecoder.feed` gives whole :class:`SSEEvent` objects (every
field), :meth:`SSEDecoder.feed_payloads` what a stream needs, a message event's payload bytes
(no object per event) or the event itself when it is named (``event: error``).

One deliberate deviation: ``flush()`` dispatches a final event that lacks its closing blank
line instead of discarding it, so a server that ends with ``data: [DONE]`` and no newline
still ends cleanly.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._constants import DEFAULT_MAX_LINE_BYTES
from ._exceptions import StreamDecodeError

__all__ = ["PayloadOrEvent", "SSEDecoder", "SSEEvent", "payload_or_event"]


class SSEEvent:
    """One dispatched event. ``data`` is the raw payload bytes (UTF-8 on GLM)."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(
        self, data: bytes, event: str = "message", id: str | None = None, retry: int | None = None
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SSEEvent):
            return NotImplemented
        return (self.data, self.event, self.id, self.retry) == (
            other.data,
            other.event,
            other.id,
            other.retry,
        )

    def __hash__(self) -> int:
        return hash((self.data, self.event, self.id, self.retry))

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"


#: What :meth:`SSEDecoder.feed_payloads` gives per event: the payload of a message event (the
#: kind GLM sends), or the event itself when it is named (``event: error``).
PayloadOrEvent = bytes | SSEEvent


def payload_or_event(event: SSEEvent) -> PayloadOrEvent:
    """``event`` in the form :meth:`SSEDecoder.feed_payloads` gives."""
    return event.data if event.event == "message" else event


class SSEDecoder:
    """Incremental SSE decoder: ``feed(bytes) -> list[SSEEvent]`` (or ``feed_payloads``), then
    ``flush()``."""

    __slots__ = (
        "_cr_pending",
        "_data",
        "_event",
        "_last_id",
        "_max_line",
        "_partial",
        "_partial_len",
        "_retry",
    )

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        # The unterminated last line, as the pieces it arrived in: joining on every read would
        # make a long line (a big tool call, or garbage) cost quadratic time.
        self._partial: list[bytes] = []
        self._partial_len = 0
        self._cr_pending = False  # the previous chunk ended in CR: a leading LF is its pair
        self._data: list[bytes] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None
        self._max_line = max_line_bytes

    def idle(self) -> bool:
        """Nothing is pending: the next byte fed starts a new line of a new event (the
        stream's fused fast path may then read a whole event without the decoder)."""
        return not (self._partial or self._data or self._event or self._cr_pending)

    def feed_payloads(self, chunk: bytes) -> Sequence[PayloadOrEvent]:
        """:meth:`feed` in the form a stream reads: a message event's payload bytes, or the
        event itself when it is named. The same decoding, without an object per event.

        This is the per-token hot path. GLM sends nothing but one-line data events separated
        by blank lines, and a network read holds one of them (paced tokens) or many with a
        partial one at the end (bursts). Then the line machinery can be skipped: split on
        blank lines, check each event is one ``data: `` line, and keep an unterminated tail
        as the pending line, exactly as :meth:`feed` would. Anything else goes to
        :meth:`feed`.
        """
        # 10 is LF and 13 is CR: with an int operand ``in`` is a plain memchr, while a bytes
        # operand first fails an int conversion (building and discarding a TypeError) on
        # every call, which cost more than everything else here together.
        if self._data or self._event or self._cr_pending or 13 in chunk:
            return self._payloads_of_lines(chunk)
        if not self._partial and chunk[-2:] == b"\n\n":
            # One whole event per read (GLM frames each event as its own HTTP chunk, and
            # paced tokens arrive one per read): the cheapest check.
            payload = chunk[6:-2]
            if 10 not in payload and chunk[:6] == b"data: ":
                return [payload]
        buf = b"".join(self._partial) + chunk if self._partial else chunk
        end = buf.rfind(b"\n\n")
        if end < 0:
            return self._payloads_of_lines(chunk)
        tail = buf[end + 2 :]
        if 10 in tail or buf[:1] == b"\n":
            return self._payloads_of_lines(chunk)
        events = buf[:end].split(b"\n\n")
        payloads = []
        for event in events:
            if event[:6] != b"data: " or 10 in event:
                return self._payloads_of_lines(chunk)
            payloads.append(event[6:])
        if len(tail) > self._max_line:
            return self._payloads_of_lines(chunk)  # feed() raises its clear error
        self._set_unterminated_line(tail)
        return payloads

    def _payloads_of_lines(self, chunk: bytes) -> list[PayloadOrEvent]:
        return [payload_or_event(event) for event in self.feed(chunk)]

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode ``chunk``; return the events it completed (often none or one)."""
        if not chunk:
            return []  # an empty read changes nothing (a CR still waits for its LF)
        if self._cr_pending:
            self._cr_pending = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if 10 not in chunk and 13 not in chunk:  # no LF or CR (see feed_payloads)
            # No line ends in this piece: park it until one does.
            self._partial.append(chunk)
            self._partial_len += len(chunk)
            self._check_line(self._partial_len)
            return []
        buf = b"".join(self._partial) + chunk if self._partial else chunk
        if 13 in buf:
            # A trailing CR already ends its line; remember it so a LF opening the next
            # chunk is not taken for an empty line (which would dispatch an event early).
            self._cr_pending = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        rest = lines.pop()
        self._set_unterminated_line(rest)
        self._check_line(len(rest))
        if not lines:
            return []
        return self._process(lines)

    def flush(self) -> list[SSEEvent]:
        """End of stream: dispatch what is pending, including a last unterminated line."""
        lines = [b"".join(self._partial)] if self._partial else []
        self._set_unterminated_line(b"")
        self._cr_pending = False
        lines.append(b"")
        return self._process(lines)

    def _set_unterminated_line(self, rest: bytes) -> None:
        """``rest`` (the bytes after the last line end seen) becomes the pending line."""
        self._partial = [rest] if rest else []
        self._partial_len = len(rest)

    def _check_line(self, length: int) -> None:
        if length > self._max_line:
            self._set_unterminated_line(b"")
            raise StreamDecodeError(
                f"An SSE line grew past {self._max_line} bytes without ending; the stream is "
                "not valid SSE. Raise max_line_bytes if such lines are expected."
            )

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(
                        SSEEvent(payload, self._event or "message", self._last_id, self._retry)
                    )
                    data.clear()
                self._event = ""
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value[:1] == b" " else value)
            elif line[0] != 58:  # 58 is ":", a comment line (keep-alive)
                self._field(line)
        return events

    def _field(self, line: bytes) -> None:
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"data":  # "data" with no colon: an empty data line
            self._data.append(b"")
        elif name == b"id":
            if b"\x00" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)
        # Unknown field names are ignored, as the spec says.
