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
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0  # 0: any free port
STALL = len(sys.argv) > 3 and sys.argv[3] == "stall"  # 5 frames, then silence; then hang
CONNECTIONS = []
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        CONNECTIONS.append(1)
        if STALL and len(CONNECTIONS) > 1:
            time.sleep(60)  # later connections are accepted, then nothing: a hung server
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        frame = np.zeros((48, 64, 3), np.uint8); frame[:] = BGR
        jpg = cv2.imencode(".jpg", frame)[1].tobytes()
        try:
            for i in range(20 * 60):  # at most a minute, at 20 fps
                if STALL and i == 5:
                    time.sleep(60)  # connection open, nothing sent: a hung stream
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                 + str(len(jpg)).encode() + b"\r\n\r\n" + jpg + b"\r\n")
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
'''


def start_server(tmp_path, *args) -> tuple[str, subprocess.Popen]:
    """An MJPEG server process showing green on 127.0.0.1; (url, process)."""
    script = tmp_path / "mjpeg_server.py"
    script.write_text(SERVER)
    proc = subprocess.Popen([sys.executable, str(script), "0,255,0", *map(str, args)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return f"http://127.0.0.1:{port}/stream.mjpg", proc


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    url, proc = start_server(tmp_path)
    try:
        yield url, proc
    finally:
        stop(proc)


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
    out = tmp_path / "stream.jsonl"
    stop = threading.Event()

    def kill_after_first_result():
        """Event-driven: the server dies once the run has classified something (a loaded
        machine may take seconds just to import OpenCV and ONNX Runtime)."""
        while not stop.is_set():
            if out.exists() and '"type": "clip"' in out.read_text():
                proc.kill()
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_first_result, daemon=True)
    killer.start()
    try:
        res = run_cli("run", bundle, url, "--device", "cpu", "--json", out, "--hop", "0.2",
                      "--timeout", "1", "--reconnects", "2", timeout=120)
    finally:
        stop.set()
        killer.join()
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


def test_a_server_that_comes_back_is_reconnected(bundle, tmp_path):
    url, proc = start_server(tmp_path)
    port = url.split(":")[2].split("/")[0]
    clf = Classifier(bundle, device="cpu")
    notices, labels, procs = [], [], [proc]
    run = clf.stream(url, hop_seconds=0.2, read_timeout_s=1.0, open_timeout_s=2.0,
                     reconnect_attempts=5, reconnect_backoff_s=0.3, max_results=8,
                     on_notice=notices.append)
    try:
        for r in run:
            labels.append(r.label)
            if len(labels) == 2:
                stop(proc)  # down...
                procs.append(start_server(tmp_path, port)[1])  # ...and up again, same port
    finally:
        for p in procs:
            stop(p)
    assert labels == ["green"] * 8
    assert [n["type"] for n in notices if n["type"] != "event"][-1] == "reconnected"
    assert run.summary()["reconnects"] == 1


def test_a_stream_that_hangs_times_out_and_fails_cleanly(bundle, tmp_path):
    """The server keeps the connection open but stops sending: the read times out; the
    reopen is accepted but never answered: the open times out."""
    url, proc = start_server(tmp_path, 0, "stall")
    clf = Classifier(bundle, device="cpu")
    notices = []
    t0 = time.perf_counter()
    try:
        with pytest.raises(SourceError, match="reconnect attempts failed"):
            for _ in clf.stream(url, read_timeout_s=1.0, open_timeout_s=1.0,
                                reconnect_attempts=1, reconnect_backoff_s=0.1,
                                on_notice=notices.append):
                pass
    finally:
        stop(proc)
    assert time.perf_counter() - t0 < 15
    assert [n["type"] for n in notices] == ["reconnect"]
