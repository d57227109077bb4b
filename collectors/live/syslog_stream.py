"""Bytes from a TCP or TLS syslog stream, cut into messages (RFC 6587).

One room, one job: a connection's bytes arrive in pieces of any size, and this turns them into
whole messages however they were cut. Framing is decided per message, as
``collectors.reading.syslog_frame.split_frames`` does for files: ``<digits> <`` starts an octet-counted
frame, anything else runs to the next LF (a CR before it is the terminator's), so one connection
may mix both. A message longer than ``max_message_bytes`` is not kept whole: its first part is
handed back as an oversized frame and the stream carries on, since its end is known from its
count or its LF. A frame over ``max_frame_bytes`` (an octet count announcing more, such as
``4294967296``, or a line running on past it) is rejected: its start is handed back as a rejected
frame and the framer takes nothing more, since where the next message would start is no longer
known; the receiver then closes the connection. The receiver (``collectors.live.syslog_receiver``)
owns the sockets; this owns no I/O at all, which is what lets its tests feed it any cut of any
stream.
"""

from __future__ import annotations

import re

from collectors.live.syslog_spool import MAX_SIZE_FIELD, OVERSIZED, REJECTED, TRUNCATED

#: The largest frame taken by default (``max_frame_bytes``): its first ``max_message_bytes``
#: are kept and the rest skipped; anything announced larger is refused.
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

_COUNTED = re.compile(rb"(\d{1,10}) <")  # RFC 6587 octet counting: "LEN SP" then the "<PRI>"
_MAYBE_COUNTED = re.compile(rb"\d{1,10} ?")  # a frame start that more bytes may yet make counted


class StreamFramer:
    """Cuts one TCP connection's bytes into messages, whatever pieces they arrive in.

    ``feed`` returns complete messages and "odd" frames ``(kind, size, data)``: oversized ones
    (``data`` is their first ``max_message_bytes``), a rejected one (over ``max_frame_bytes``;
    ``rejected`` is then true and every later byte is ignored) and, from ``finish``, one cut
    short. Blank lines are skipped: senders use them as keep-alives and after counted frames.
    """

    def __init__(self, max_message_bytes: int, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        self.max = max_message_bytes
        # Never below a message, never more than a spool record can say it held.
        self.max_frame = min(max(max_frame_bytes, max_message_bytes), MAX_SIZE_FIELD)
        self.rejected = False
        self._buf = bytearray()
        self._need: int | None = None  # the length of the counted frame being read
        self._skip = 0  # bytes of an oversized counted frame still to discard
        self._skip_line = False  # discarding an oversized line up to its LF
        self._head = bytearray()  # the kept start of the oversized frame
        self._size = 0  # the oversized frame's full size
        self._cr = False  # the skipped line's last byte so far was a CR

    def feed(self, data: bytes) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
        """The messages and odd frames that ``data`` completes; the rest waits for more."""
        if self.rejected:
            return [], []  # framing is lost: nothing after a rejected frame can be cut safely
        buf = self._buf
        buf += data
        messages: list[bytes] = []
        odd: list[tuple[int, int, bytes]] = []
        pos, end = 0, len(buf)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                self._keep(buf, pos, pos + take)
                pos += take
                self._skip -= take
                if not self._skip:
                    odd.append(self._oversized())
                continue
            if self._skip_line:
                newline = buf.find(b"\n", pos)
                stop = end if newline < 0 else newline
                self._keep(buf, pos, stop)
                self._size += stop - pos
                if stop > pos:
                    self._cr = buf[stop - 1] == 13
                if self._size > self.max_frame + 1:  # + 1: a CR that may be the terminator's
                    odd.append(self._reject(buf, end, end, counted=False))
                    return messages, odd
                if newline < 0:
                    pos = end
                    break
                pos = newline + 1
                self._skip_line = False
                self._size -= self._cr  # a CR before the LF is the terminator's, not the line's
                odd.append(self._oversized())
                continue
            if self._need is not None:
                if end - pos < self._need:
                    break
                if self._need:
                    messages.append(bytes(buf[pos : pos + self._need]))
                pos += self._need
                self._need = None
                continue
            if 48 <= buf[pos] <= 57:  # a digit: perhaps an octet count
                count = _COUNTED.match(buf, pos)
                if count is not None:
                    length = int(count.group(1))
                    if length > self.max_frame:
                        odd.append(self._reject(buf, pos, end, counted=True))
                        return messages, odd
                    pos = count.end() - 1  # the "<" belongs to the message
                    if length > self.max:
                        self._skip, self._size = length, length
                    else:
                        self._need = length
                    continue
                if end - pos <= 12 and _MAYBE_COUNTED.fullmatch(buf, pos):
                    break  # "12" or "12 " so far: the next bytes decide
            newline = buf.find(b"\n", pos)
            if newline < 0:
                if end - pos > self.max + 1:  # + 1: the line may yet end in CR LF
                    self._skip_line, self._size, self._cr = True, 0, False
                    continue
                break
            stop = newline - 1 if newline > pos and buf[newline - 1] == 13 else newline
            if stop - pos > self.max:
                odd.append((OVERSIZED, stop - pos, bytes(buf[pos : pos + self.max])))
            elif stop > pos:
                messages.append(bytes(buf[pos:stop]))
            pos = newline + 1
        del buf[:pos]
        return messages, odd

    def finish(self, *, complete: bool) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
        """What is left when the connection ends. ``complete``: the peer closed it cleanly, so
        an unterminated last line is a whole message (as a file's last line is)."""
        buf, self._buf = bytes(self._buf), bytearray()
        if self.rejected:
            return [], []  # handed back by ``feed`` already
        if self._skip or self._skip_line:
            self._skip, self._skip_line = 0, False
            return [], [self._oversized()]
        if self._need is not None:
            need, self._need = self._need, None
            return [], [(TRUNCATED, need, buf)]
        if buf.endswith(b"\r"):
            buf = buf[:-1]
        if not buf:
            return [], []
        if complete:
            return [buf], []
        return [], [(TRUNCATED, 0, buf)]

    def _reject(self, buf: bytearray, start: int, end: int, *, counted: bool) -> tuple[int, int, bytes]:
        """Give up on this stream at ``start``: the rejected frame as an odd one, whose size is
        the bytes in hand that are dropped (a count too large is in ``data``, at its start)."""
        self.rejected = True
        self._skip_line = False
        if counted:
            size, head = end - start, bytes(buf[start : start + self.max])
        else:  # a line past the bound: its kept head, and all of it read so far
            size, head = self._size, bytes(self._head)
        self._buf, self._head = bytearray(), bytearray()
        return REJECTED, min(size, MAX_SIZE_FIELD), head

    def _keep(self, buf: bytearray, start: int, stop: int) -> None:
        room = self.max - len(self._head)
        if room > 0:
            self._head += buf[start : min(stop, start + room)]

    def _oversized(self) -> tuple[int, int, bytes]:
        head, self._head = bytes(self._head), bytearray()
        return OVERSIZED, self._size, head
