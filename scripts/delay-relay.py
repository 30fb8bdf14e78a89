#!/usr/bin/env python3
"""A TCP relay that adds a one-way delay: the link-delay half of scripts/netns-cluster.sh.

    scripts/delay-relay.py --listen HOST:PORT --target HOST:PORT --delay 20ms
                           [--chunk 262144] [--max-buffer 33554432] [--no-connect-delay]
    scripts/delay-relay.py --parse-delay 0.2ms      # prints the delay in seconds, exit 2 if invalid

Every connection accepted on --listen gets its own connection to --target, and bytes are forwarded
in both directions. Each chunk read (up to --chunk bytes) is stamped on arrival and written on no
earlier than DELAY later, so each direction sees DELAY of one-way delay and a request/response
round trip through the relay gains 2 x DELAY. Chunks leave in arrival order. A direction holds at
most --max-buffer bytes; beyond that the relay stops reading from the sender (TCP flow control
pushes back), so memory is bounded and throughput through it is capped at max-buffer / DELAY
(32 MiB / 20 ms = 13 Gbit/s by default). TCP_NODELAY is set on both sockets. A half close (EOF)
is passed on after the delay too; a reset or error on either side resets both.

Connection setup: the relay accepts at once (the client's connect() does not wait for a round
trip), but it opens the connection to the target only 3 x DELAY after the accept -- when the
target would have seen TCP's SYN, SYN-ACK, ACK on a link with this delay -- and the client's early
bytes wait for it. So the target's first bytes reach the client 4 x DELAY after it connected, as on
the real link, and a protocol handshake on top (ZMTP's greeting) costs its own round trips too.
--no-connect-delay connects at once instead.

This kernel has no tc netem, hence userspace. Each direction is a reader thread and a writer
thread with blocking sockets: the writer waits with time.sleep (nanosleep, ~0.05-0.1 ms of slack
on an idle machine), which keeps sub-millisecond delays meaningful where an event loop's
millisecond epoll timeouts would not. Python 3 standard library only.
Prints "delay-relay listening on HOST:PORT -> HOST:PORT (delay S s)" on stdout once it accepts.
"""
import argparse
import collections
import re
import signal
import socket
import struct
import sys
import threading
import time

_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "msec": 1e-3, "us": 1e-6, "usec": 1e-6}


def parse_delay(text):
    """'0.2ms', '20ms', '50us', '0.01s' -> seconds (tc's units; a bare number is milliseconds)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", text.lower())
    if not m or (m.group(2) and m.group(2) not in _UNITS):
        raise ValueError(f"delay '{text}' is not a time such as 0.2ms, 20ms, 50us or 0.01s")
    value = float(m.group(1)) * _UNITS[m.group(2) or "ms"]
    if value > 10:
        raise ValueError(f"delay '{text}' is over 10 s")
    return value


def parse_address(text, flag):
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{flag} '{text}' is not HOST:PORT")
    return host, int(port)


def _reset(sock):
    """Close with RST so the peer sees the failure instead of a clean EOF."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _send_all(sock, chunks):
    """Writes the chunks in order with scatter/gather sends (no joined copy); returns the byte count."""
    total = sum(len(c) for c in chunks)
    views = [memoryview(c) for c in chunks]
    while views:
        sent = sock.sendmsg(views[:64])
        while sent:
            if sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][sent:]
                sent = 0
    return total


class Direction:
    """src -> dst: a reader thread stamps chunks, a writer thread sends each DELAY after it arrived."""

    def __init__(self, conn, src, name):
        self.conn, self.src, self.dst, self.name = conn, src, None, name
        self.pending = collections.deque()   # (due, bytes | None for EOF)
        self.buffered = 0
        self.cond = threading.Condition()
        self.closed = False

    def _thread(self, target):
        threading.Thread(target=target, daemon=True, name=f"{self.name}-{target.__name__}").start()

    def start_reading(self):
        self._thread(self.read)

    def start_writing(self, dst):
        self.dst = dst
        self._thread(self.write)

    def stop(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def read(self):
        relay = self.conn.relay
        try:
            while True:
                data = self.src.recv(relay.chunk)
                due = time.monotonic() + relay.delay
                with self.cond:
                    while self.buffered >= relay.max_buffer and not self.closed:   # backpressure
                        self.cond.wait()
                    if self.closed:
                        return
                    self.pending.append((due, data or None))
                    self.buffered += len(data)
                    self.cond.notify_all()
                if not data:
                    return
        except OSError:
            self.conn.fail()

    def write(self):
        max_buffer = self.conn.relay.max_buffer
        try:
            while True:
                with self.cond:
                    while not self.pending and not self.closed:
                        self.cond.wait()
                    if self.closed:
                        return
                    due = self.pending[0][0]
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                # Everything due now leaves in one send (arrival order).
                now, batch, eof = time.monotonic(), [], False
                with self.cond:
                    while self.pending and self.pending[0][0] <= now:
                        item = self.pending.popleft()[1]
                        if item is None:
                            eof = True
                            break
                        batch.append(item)
                if batch:
                    size = _send_all(self.dst, batch)
                    with self.cond:
                        was_full = self.buffered >= max_buffer
                        self.buffered -= size
                        if was_full:
                            self.cond.notify_all()
                if eof:
                    self.dst.shutdown(socket.SHUT_WR)
                    self.conn.half_closed()
                    return
        except OSError:
            self.conn.fail()


class Connection:
    """One accepted client: its bytes are read (and stamped) at once; the target is connected after
    the emulated handshake, then both directions run."""

    def __init__(self, relay, client, peer):
        self.relay, self.client, self.upstream, self.peer = relay, client, None, peer
        self.accepted = time.monotonic()
        self.lock = threading.Lock()
        self.open_directions = 2
        self.done = False
        self.up = Direction(self, client, f"{peer}>")
        self.down = None

    def start(self):
        self.up.start_reading()
        threading.Thread(target=self.open_upstream, daemon=True, name=f"{self.peer}-connect").start()

    def open_upstream(self):
        relay = self.relay
        wait = self.accepted + relay.connect_delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            upstream = socket.create_connection(relay.target, timeout=10)
            upstream.settimeout(None)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            print(f"delay-relay: cannot connect to {relay.target[0]}:{relay.target[1]}: {e}", file=sys.stderr, flush=True)
            self.fail()
            return
        with self.lock:
            if self.done:
                upstream.close()
                return
            self.upstream = upstream
            self.down = Direction(self, upstream, f"{self.peer}<")
        self.up.start_writing(upstream)
        self.down.start_reading()
        self.down.start_writing(self.client)

    def directions(self):
        return [d for d in (self.up, self.down) if d is not None]

    def half_closed(self):
        with self.lock:
            self.open_directions -= 1
            last = self.open_directions == 0 and not self.done
            if last:
                self.done = True
        if last:
            for d in self.directions():
                d.stop()
            self.client.close()
            self.upstream.close()

    def fail(self):
        with self.lock:
            if self.done:
                return
            self.done = True
        for d in self.directions():
            d.stop()
        for s in (self.client, self.upstream):
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)   # wakes a reader blocked in recv
            except OSError:
                pass
            _reset(s)


class Relay:
    def __init__(self, target, delay, chunk, max_buffer, connect_delay):
        self.target, self.delay, self.chunk, self.max_buffer = target, delay, chunk, max_buffer
        self.connect_delay = connect_delay

    def serve(self, listener):
        while True:
            client, peer = listener.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Threads inherit the signal mask: with TERM/INT blocked in every relay thread, the kernel
            # delivers them to this (main) thread, whose accept() they interrupt, so the relay exits
            # at once instead of leaving the signal to a thread stuck in recv().
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
            try:
                Connection(self, client, f"{peer[0]}:{peer[1]}").start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def cli():
    p = argparse.ArgumentParser(description="TCP relay adding a one-way delay to each direction.")
    p.add_argument("--listen", help="HOST:PORT to accept on (port 0 = any; the bound one is printed)")
    p.add_argument("--target", help="HOST:PORT to forward each connection to")
    p.add_argument("--delay", help="one-way delay per direction, e.g. 0.2ms, 20ms, 50us (bare number = ms)")
    p.add_argument("--chunk", type=int, default=256 * 1024, help="largest read, bytes (default 262144)")
    p.add_argument("--max-buffer", type=int, default=32 << 20,
                   help="bytes held per direction before reading stops (default 32 MiB)")
    p.add_argument("--no-connect-delay", action="store_true",
                   help="connect to the target at once instead of 3 x DELAY after accepting (TCP's handshake)")
    p.add_argument("--parse-delay", metavar="DELAY", help="validate DELAY, print it in seconds and exit")
    args = p.parse_args()
    try:
        if args.parse_delay is not None:
            print(f"{parse_delay(args.parse_delay):g}")
            return 0
        if not (args.listen and args.target and args.delay):
            p.error("--listen, --target and --delay are required")
        host, port = parse_address(args.listen, "--listen")
        target = parse_address(args.target, "--target")
        delay = parse_delay(args.delay)
        if args.chunk < 1 or args.max_buffer < args.chunk:
            raise ValueError("--chunk must be ≥ 1 and --max-buffer ≥ --chunk")
        listener = socket.create_server((host, port), reuse_port=False, backlog=128)
    except ValueError as e:
        print(f"delay-relay: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"delay-relay: cannot listen on {args.listen}: {e}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # A parent may have left TERM/INT blocked in the inherited mask (a test runner's thread does).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    bound = listener.getsockname()
    print(f"delay-relay listening on {bound[0]}:{bound[1]} -> {target[0]}:{target[1]} (delay {delay:g} s)", flush=True)
    try:
        Relay(target, delay, args.chunk, args.max_buffer, 0 if args.no_connect_delay else 3 * delay).serve(listener)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(cli())
