"""What the CI scripts that talk to `dolly serve` share: the server as a child process, PASS/FAIL
checks, and `dolly run --greedy` as the reference answer."""
import re
import signal
import subprocess
import threading


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


class Server:
    """`dolly serve --port 0` as a child process; `url` once it prints `listening on http://HOST:PORT`."""

    def __init__(self, dolly, model, extra=(), timeout=120):
        self.command = [dolly, "serve", "--model", model, "--port", "0", *extra]
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines, self.url, self.ready = [], None, threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.ready.wait(timeout) or self.url is None:
            self.stop()
            raise RuntimeError(f"{' '.join(self.command)} did not start: " + " | ".join(self.lines[-5:]))

    def _drain(self):
        for line in self.proc.stderr:  # read to the end, so the pipe never fills
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"listening on (http://\S+)", line)
            if m and self.url is None:
                self.url = m.group(1)
                self.ready.set()
        self.ready.set()  # exited without the line

    def stop(self):
        """SIGINT, as Ctrl-C; the server gives running requests 10 s. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Runner:
    def __init__(self):
        self.failed = 0
        self.count = 0

    def stopped(self, server):
        """Stops `server` (SIGINT) and counts its exit status 0 as a check."""
        code = server.stop()
        self.count += 1
        if code == 0:
            print(f"PASS {' '.join(server.command[1:])}: exits 0 on SIGINT", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {' '.join(server.command[1:])}: exit status {code} on SIGINT; stderr: "
                  + " | ".join(server.lines[-5:]), flush=True)

    def check(self, name, fn):
        self.count += 1
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001  (any error is this check's failure)
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        else:
            print(f"PASS {name}" + (f" ({detail})" if detail else ""), flush=True)


def dolly_run(dolly, model, text, max_tokens, raw=False):
    command = [dolly, "run", "--model", model, "--greedy", "--max-tokens", str(max_tokens)]
    command += ["--raw"] if raw else []
    out = subprocess.run(command + ["--", text], capture_output=True, text=True, timeout=600)
    expect(out.returncode == 0, f"{' '.join(command)} exited {out.returncode}: {out.stderr.strip()}")
    return out.stdout[:-1] if out.stdout.endswith("\n") else out.stdout  # run ends with one newline
