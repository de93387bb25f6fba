"""One thread accepts connections for every listener of a lab process.

socketserver's ``serve_forever`` gives each listener a thread that wakes every poll interval to
look for a shutdown request. With two listeners per endpoint that is 2,000 wake-ups a second at 200
endpoints: a tenth of a core spent on nothing, taken from the clients a benchmark measures. Here
one selector waits on every listening socket (and a wake-up pipe), so an idle lab sleeps.

Accepting stays cheap and non-blocking; each accepted connection gets its own thread
(``ThreadingMixIn.process_request``), where TLS handshakes and requests run.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading


class AcceptLoop:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)  # a full pipe means a wake-up is pending already
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        # Held while events are dispatched: once remove() returns, the loop never touches that
        # listener again, so the caller may close it.
        self._dispatching = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="lab-accept", daemon=True)
        self._thread.start()

    def add(self, listener: socketserver.TCPServer) -> None:
        listener.socket.setblocking(False)  # a connection gone before accept() must not block the loop
        with self._dispatching:
            self._selector.register(listener.socket, selectors.EVENT_READ, listener)
        self._wake()

    def remove(self, listener: socketserver.TCPServer) -> None:
        with self._dispatching:
            try:
                self._selector.unregister(listener.socket)
            except (KeyError, ValueError):
                pass

    def stop(self) -> None:
        with self._dispatching:
            self._stopping = True
        self._wake()
        self._thread.join(5)
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"\0")
        except OSError:
            pass  # the pipe is full: the loop is already due to wake

    def _run(self) -> None:
        while True:
            events = self._selector.select()
            with self._dispatching:
                if self._stopping:
                    return
                registered = self._selector.get_map()
                for key, _mask in events:
                    if key.data is None:
                        self._drain_wake_pipe()
                    elif registered.get(key.fd) is key:  # not removed while we were waiting
                        # socketserver's own accept-and-dispatch step (what serve_forever calls);
                        # an accept that fails (client gone) is swallowed there.
                        key.data._handle_request_noblock()

    def _drain_wake_pipe(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass
