"""download_nbaiot against a local HTTP server (127.0.0.1) that honours Range and can cut off."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from mbm_helpers.download import download_nbaiot, sha256_of
from mbm_helpers.errors import ChecksumError, DataError


class _Server:
    """Serves one payload at /data/archive.zip; ``cut_after`` bytes then closes (once per setting)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.cut_after: int | None = None
        self.honour_range = True
        self.requests: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.requests.append(rng)
                if self.path != "/data/archive.zip":
                    self.send_error(404)
                    return
                start = 0
                if rng and server.honour_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(server.payload):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}"
                    )
                else:
                    self.send_response(200)
                body = server.payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/archive.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def payload(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small zip archive built by the test (random-ish bytes so a cut is detectable)."""
    path = tmp_path_factory.mktemp("payload") / "built.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Danmini_Doorbell/benign_traffic.csv", "x" * 1000)
        zf.writestr("blob.bin", hashlib.sha256(b"seed").digest() * 4000)
    return path.read_bytes()


@pytest.fixture
def server(payload: bytes):
    srv = _Server(payload)
    yield srv
    srv.close()


def test_download_verifies_and_is_not_fetched_again(tmp_path: Path, server: _Server, payload: bytes) -> None:
    sha = hashlib.sha256(payload).hexdigest()
    path = download_nbaiot(tmp_path / "dl", url=server.url, sha256=sha, progress=False, timeout=10)
    assert path == tmp_path / "dl" / "archive.zip"
    assert path.read_bytes() == payload
    assert not (tmp_path / "dl" / "archive.zip.part").exists()
    n = len(server.requests)
    assert download_nbaiot(tmp_path / "dl", url=server.url, sha256=sha, progress=False) == path
    assert len(server.requests) == n  # verified file present: no request
    assert sha256_of(path) == sha


def test_wrong_checksum_leaves_nothing_under_final_name(tmp_path: Path, server: _Server) -> None:
    with pytest.raises(ChecksumError, match="pinned checksum"):
        download_nbaiot(tmp_path, url=server.url, sha256="0" * 64, progress=False, timeout=10)
    assert not (tmp_path / "archive.zip").exists()
    assert not (tmp_path / "archive.zip.part").exists()


def test_truncated_download_keeps_part_and_resumes(tmp_path: Path, server: _Server, payload: bytes) -> None:
    sha = hashlib.sha256(payload).hexdigest()
    server.cut_after = len(payload) // 3
    with pytest.raises(DataError, match=r"interrupted|ended early") as info:
        download_nbaiot(tmp_path, url=server.url, sha256=sha, progress=False, timeout=10)
    assert "resume" in str(info.value)
    part = tmp_path / "archive.zip.part"
    assert not (tmp_path / "archive.zip").exists()
    assert part.read_bytes() == payload[: len(payload) // 3]
    path = download_nbaiot(tmp_path, url=server.url, sha256=sha, progress=False, timeout=10)
    assert server.requests[-1] == f"bytes={len(payload) // 3}-"  # resumed, not restarted
    assert path.read_bytes() == payload
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path, server: _Server, payload: bytes) -> None:
    (tmp_path / "archive.zip.part").write_bytes(b"garbage that is not the archive")
    server.honour_range = False
    sha = hashlib.sha256(payload).hexdigest()
    path = download_nbaiot(tmp_path, url=server.url, sha256=sha, progress=False, timeout=10)
    assert path.read_bytes() == payload


def test_existing_corrupt_file_is_reported_not_replaced(tmp_path: Path, server: _Server) -> None:
    (tmp_path / "archive.zip").write_bytes(b"not it")
    with pytest.raises(ChecksumError, match="archive.zip"):
        download_nbaiot(tmp_path, url=server.url, sha256="1" * 64, progress=False)
    assert (tmp_path / "archive.zip").read_bytes() == b"not it"


def test_http_error_is_clear(tmp_path: Path, server: _Server) -> None:
    with pytest.raises(DataError, match="HTTP 404"):
        download_nbaiot(
            tmp_path, url=server.url.replace("archive", "missing"), sha256="0" * 64, progress=False
        )
    assert list(tmp_path.iterdir()) == []
