"""A loopback TCP forwarder for outage tests (a database, a gRPC peer) and chaos runs."""

from __future__ import annotations

import asyncio


class TcpProxy:
    """A loopback TCP forwarder that a test can cut and restore, to inject a dependency outage
    (database, gRPC peer) into a running service without touching the real server."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self._server = None
        self._writers: set = set()

    async def start(self) -> TcpProxy:
        async def pipe(reader, writer) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(client_reader, client_writer) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                client_writer.close()
                return
            self._writers.update({client_writer, up_writer})
            await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))
            self._writers.difference_update({client_writer, up_writer})

        self._server = await asyncio.start_server(handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()
