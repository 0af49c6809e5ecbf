"""The ``env://`` rendezvous: every rank checks in at ``MASTER_ADDR:MASTER_PORT`` before MPI starts.

MPI's own start-up waits without a deadline for every process of the job (and holds the GIL
while it waits), so a rank that never comes would hang the others for ever. Like PyTorch's
TCPStore, rank 0 listens and the other ranks connect; MPI is started only once all have
joined, or every rank fails with :class:`DistStoreError` after ``timeout`` seconds.
The connections stay open afterwards so that rank 0 can hand a line of text to every rank
(the MPI port name that joins the nodes of ``ndgrad run --nnodes``).
"""

from __future__ import annotations

import socket
import time

from ndgrad.distributed.errors import DistStoreError


class Rendezvous:
    """Rank 0's listening side or another rank's connection; :meth:`close` when done."""

    def __init__(self, addr: str, port: int, rank: int, world_size: int, timeout: float) -> None:
        self.rank = rank
        self.world_size = world_size
        self.where = f"{addr}:{port}"
        self.timeout = timeout
        self.peers: list[socket.socket] = []
        deadline = time.monotonic() + timeout
        if rank == 0:
            self._serve(port, deadline)
        else:
            self._join(addr, port, deadline)

    def _serve(self, port: int, deadline: float) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("", port))
        except OSError as exc:
            server.close()
            raise DistStoreError(
                f"init_process_group: rank 0 cannot listen on port {port} ({exc.strerror}); "
                "choose another MASTER_PORT"
            ) from None
        server.listen(self.world_size)
        joined = {0}
        try:
            while len(joined) < self.world_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sorted(set(range(self.world_size)) - joined)
                    raise DistStoreError(
                        f"Timed out after {self.timeout:g} seconds waiting for clients. "
                        f"{len(joined)}/{self.world_size} clients joined "
                        f"(ranks {missing} never reached init_process_group at {self.where})."
                    )
                server.settimeout(left)
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                conn.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    peer_text, _, job = _read_line(conn).partition(" ")
                    peer = int(peer_text)
                except (OSError, ValueError):
                    conn.close()  # not one of ours (a port scan, a stale process)
                    continue
                if job != _job():
                    conn.close()  # a rank of another job that was handed the same port
                    continue
                if peer in joined or not 0 < peer < self.world_size:
                    conn.close()
                    raise DistStoreError(
                        f"init_process_group: a second process claims rank {peer} (world size "
                        f"{self.world_size}); each rank must be started once"
                    )
                joined.add(peer)
                self.peers.append(conn)
            for conn in self.peers:
                conn.sendall(b"go\n")
        except BaseException:
            self.close()
            raise
        finally:
            server.close()

    def _join(self, addr: str, port: int, deadline: float) -> None:
        while True:
            try:
                conn = socket.create_connection(
                    (addr, port), timeout=max(deadline - time.monotonic(), 0.01)
                )
                break
            except OSError:  # rank 0 not listening yet
                if time.monotonic() > deadline:
                    raise DistStoreError(
                        f"Timed out after {self.timeout:g} seconds: rank {self.rank} could not "
                        f"reach rank 0 at {self.where} (MASTER_ADDR:MASTER_PORT)"
                    ) from None
                time.sleep(0.05)
        self.peers = [conn]
        try:
            conn.sendall(f"{self.rank} {_job()}\n".encode())
            conn.settimeout(max(deadline - time.monotonic(), 0.01))
            if _read_line(conn) != "go":
                raise OSError
        except OSError:
            self.close()
            raise DistStoreError(
                f"Timed out after {self.timeout:g} seconds: rank {self.rank} joined at "
                f"{self.where} but not every rank did (rank 0 gave up or died)"
            ) from None

    def share(self, text: str | None) -> str:
        """Rank 0's ``text``, on every rank."""
        if self.rank == 0:
            for conn in self.peers:
                conn.sendall(text.encode() + b"\n")
            return text
        self.peers[0].settimeout(self.timeout)
        try:
            return _read_line(self.peers[0])
        except OSError:
            raise DistStoreError(
                f"rank {self.rank}: rank 0 at {self.where} closed the rendezvous "
                f"or sent nothing within {self.timeout:g} seconds"
            ) from None

    def close(self) -> None:
        for conn in self.peers:
            conn.close()
        self.peers = []


def _job() -> str:
    """The launch this rank belongs to (``ndgrad run`` sets it; empty otherwise)."""
    import os

    return os.environ.get("NDGRAD_JOB_ID", "")


def _read_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data[:-1].decode()
