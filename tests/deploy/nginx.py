"""Debian's nginx as the reverse proxy of the deployment, run on 127.0.0.1 for a test."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from tests.ports import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

CONF = """\
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    # Round robin: consecutive requests go to different workers, so the test proves any
    # worker can take any update.
    upstream telegram_workers {{ {telegram} }}
    upstream slack_workers {{ {slack} }}
    server {{
        listen 127.0.0.1:{port};
        location /telegram {{
            proxy_pass http://telegram_workers;
            proxy_set_header Host $host;
            proxy_next_upstream error timeout;
        }}
        location /slack/events {{
            proxy_pass http://slack_workers;
            proxy_set_header Host $host;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


class Nginx:
    """``nginx -g 'daemon off;'`` with a generated config; stopped with SIGQUIT (graceful)."""

    def __init__(self, root: Path, telegram: list[int], slack: list[int]) -> None:
        if NGINX is None:
            raise RuntimeError("nginx is not installed")
        self.root = root
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        self.conf = root / "nginx.conf"
        self.conf.write_text(
            CONF.format(
                root=root,
                port=self.port,
                telegram=" ".join(f"server 127.0.0.1:{p};" for p in telegram),
                slack=" ".join(f"server 127.0.0.1:{p};" for p in slack),
            )
        )
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 10.0) -> None:
        assert NGINX is not None
        self.proc = await asyncio.create_subprocess_exec(
            NGINX,
            "-p",
            str(self.root),
            "-c",
            str(self.conf),
            "-g",
            "daemon off;",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError((self.root / "error.log").read_text())
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError("nginx did not start listening")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
