"""A network stream served over loopback by a process the test starts (multipart MJPEG over
HTTP, 127.0.0.1 only) is classified; killing the server mid-stream triggers reconnects with
backoff and then a clean error. Bounded in time: every wait has a timeout."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from helpers import run_cli
from test_runtime_fixtures import make_bundle, read_jsonl

from videoedge.runtime.classifier import Classifier
from videoedge.runtime.errors import SourceError

SERVER = r'''
import sys, time, cv2, numpy as np
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BGR = tuple(int(x) for x in sys.argv[1].split(","))
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        frame = np.zeros((48, 64, 3), np.uint8); frame[:] = BGR
        jpg = cv2.imencode(".jpg", frame)[1].tobytes()
        try:
            for _ in range(20 * 60):  # at most a minute, at 20 fps
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(jpg)).encode() + b"\r\n\r\n" + jpg + b"\r\n")
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
'''


@pytest.fixture
def server(tmp_path):
    """Start an MJPEG server showing green; yields (url, process)."""
    script = tmp_path / "mjpeg_server.py"
    script.write_text(SERVER)
    proc = subprocess.Popen([sys.executable, str(script), "0,255,0"], stdout=subprocess.PIPE,
                            text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/stream.mjpg", proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("bundle") / "b")


def test_a_loopback_stream_is_classified_then_a_dead_server_is_a_clean_error(bundle, server):
    url, proc = server
    clf = Classifier(bundle, device="cpu")
    notices = []
    run = clf.stream(url, hop_seconds=0.2, read_timeout_s=1.0, open_timeout_s=2.0,
                     reconnect_attempts=3, reconnect_backoff_s=0.1, on_notice=notices.append)
    labels = []
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="3 reconnect attempts failed"):
        for r in run:
            labels.append(r.label)
            if len(labels) == 3:
                proc.kill()  # the server dies mid-stream
    assert time.perf_counter() - t0 < 15
    assert labels[:3] == ["green"] * 3
    attempts = [n["attempt"] for n in notices if n["type"] == "reconnect"]
    assert attempts == [1, 2, 3]
    waits = [n["wait_s"] for n in notices if n["type"] == "reconnect"]
    assert waits == sorted(waits) and waits[-1] > waits[0]  # backoff grows


def test_cli_stream_dies_midway_exit_1_with_results_kept(bundle, server, tmp_path):
    url, proc = server
    killer = threading.Timer(2.5, proc.kill)
    killer.start()
    out = tmp_path / "stream.jsonl"
    try:
        res = run_cli("run", bundle, url, "--device", "cpu", "--json", out, "--hop", "0.2",
                      "--timeout", "1", "--reconnects", "2", timeout=60)
    finally:
        killer.cancel()
    assert res.returncode == 1, res.stderr
    assert "reconnect attempts failed" in res.stderr.splitlines()[-1]
    records = read_jsonl(out)
    kinds = [r["type"] for r in records]
    assert "clip" in kinds and kinds.count("reconnect") == 2
    assert kinds[-2:] == ["error", "summary"]


def test_a_url_that_refuses_is_exit_2_at_once(bundle, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    res = run_cli("run", bundle, f"http://127.0.0.1:{port}/x.mjpg", "--device", "cpu",
                  timeout=60)
    assert res.returncode == 2 and "cannot be opened" in res.stderr
    assert time.perf_counter() - t0 < 20
