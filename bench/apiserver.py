"""Benchmark the vcluster API server with kbench (and, beside it, a trivial aiohttp baseline).

For each target it starts a fresh server (a new temp data dir, a free port), runs
/work/shared/tools/kbench.py against it, saves the JSON result and logs under bench/results/,
prints the table and stops the server with SIGTERM.  After both targets it prints the side by
side comparison (kbench --report) and a list of anything that looked wrong: kbench errors,
missing watch events, server ERROR/Traceback log lines, a server that died or did not stop.

Usage (from the repository root):
  .venv/bin/python bench/apiserver.py                     # issue parameters: kbench defaults, 3 reps
  .venv/bin/python bench/apiserver.py --reps 1            # quicker exploration
  .venv/bin/python bench/apiserver.py --no-baseline -- --phases create,get
Everything after `--` is passed to kbench unchanged (see kbench.py --help).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import py_compile
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
KBENCH = Path(os.environ.get("KBENCH", "/work/shared/tools/kbench.py"))
LOG_PROBLEM = re.compile(r" (ERROR|CRITICAL|WARNING) |Traceback|Exception| 5\d\d ")


def log(msg: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_info() -> dict:
    info: dict = {"nproc": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu_model"] = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None
            )
    except OSError:
        pass
    try:
        info["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
        info["free_h"] = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout
    except (OSError, ValueError):
        pass
    return info


def prepare_kbench(workdir: Path) -> tuple[Path, dict]:
    """Use kbench.py as it is; if it does not compile, use a copy with the known fix.

    kbench 1.0 as shipped lacks the closing quotes of its module docstring (SyntaxError at
    line 65).  The copy only inserts that closing line before `import argparse`; nothing else
    changes.  The fix is recorded in the result's sidecar file."""
    src = KBENCH.read_bytes()
    info = {"path": str(KBENCH), "sha256": hashlib.sha256(src).hexdigest(), "patched": False}
    try:
        py_compile.compile(str(KBENCH), cfile=str(workdir / "kbench-check.pyc"), doraise=True)
        return KBENCH, info
    except py_compile.PyCompileError as e:
        first = str(e).strip().splitlines()[-1]
        text = src.decode()
        marker = "\nimport argparse\n"
        if not text.startswith('#!/usr/bin/env python3\n"""') or marker not in text:
            raise SystemExit(f"{KBENCH} does not compile and is not the known case: {first}") from None
        head, tail = text.split(marker, 1)
        if '"""' in head[len('#!/usr/bin/env python3\n"""') :]:
            raise SystemExit(f"{KBENCH} does not compile and is not the known case: {first}") from None
        fixed = head + '\n"""\n' + marker + tail
        dst = workdir / "kbench.py"
        dst.write_text(fixed)
        py_compile.compile(str(dst), cfile=str(workdir / "kbench-fixed.pyc"), doraise=True)
        info.update(
            patched=True,
            compile_error=first,
            patch="closing '\"\"\"' of the module docstring inserted before 'import argparse' (line 28)",
            patched_copy=str(dst),
        )
        log(f"NOTE: {KBENCH} does not compile ({first}); using a copy with the docstring closed")
        return dst, info


class Server:
    """A server subprocess: waits for its ready line, logs stderr (and later stdout) to a file."""

    def __init__(self, name: str, argv: list[str], ready: re.Pattern, logfile: Path, env: dict | None = None):
        self.name = name
        self.logfile = logfile
        self.logf = open(logfile, "wb")  # noqa: SIM115 - closed in stop()
        log(f"starting {name}: {' '.join(argv)} (stderr -> {logfile})")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.logf, cwd=ROOT, env=env)
        self.ready_line = None
        deadline = time.monotonic() + 120
        assert self.proc.stdout is not None
        got: list[bytes] = []

        def read_first() -> None:
            line = self.proc.stdout.readline()  # type: ignore[union-attr]
            got.append(line)

        t = threading.Thread(target=read_first, daemon=True)
        t.start()
        t.join(max(0.0, deadline - time.monotonic()))
        line = got[0].decode(errors="replace").strip() if got else ""
        m = ready.search(line)
        if not m:
            self.stop()
            raise SystemExit(
                f"{name} did not become ready (exit {self.proc.returncode}): {line!r}; see {logfile}"
            )
        self.ready_line = line
        self.match = m
        log(f"{name} pid {self.proc.pid}: {line}")
        # keep draining stdout so the server never blocks on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.logf.write(b"[stdout] " + line)
            self.logf.flush()

    def stop(self) -> dict:
        out = {"alive_before_stop": self.proc.poll() is None}
        if out["alive_before_stop"]:
            self.proc.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within 30 s of SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait()
                out["killed"] = True
            out["stop_s"] = round(time.monotonic() - t0, 2)
        out["returncode"] = self.proc.returncode
        self.logf.close()
        return out


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def scan_log(path: Path, limit: int = 30) -> dict:
    lines = path.read_text(errors="replace").splitlines()
    bad = [ln for ln in lines if LOG_PROBLEM.search(ln)]
    return {"lines": len(lines), "problem_lines": len(bad), "samples": [ln[:400] for ln in bad[:limit]]}


def anomalies(doc: dict) -> list[str]:
    """Things in a kbench result that show a failure rather than slowness."""
    out = []
    for rep in doc.get("reps", []):
        n = rep.get("rep")
        for phase in ("create", "get", "list", "watch", "pods"):
            for lvl, r in (rep.get(phase) or {}).items():
                where = f"rep {n} {phase} {lvl}"
                for key in ("errors", "create_errors", "missing"):
                    if r.get(key):
                        out.append(f"{where}: {key}={r[key]}")
                for s in r.get("error_samples", []) + r.get("problems", []):
                    out.append(f"{where}: {s}")
                if r.get("warning"):
                    out.append(f"{where}: {r['warning']}")
                if phase == "watch":
                    cl = r.get("create_lat_ms") or {}
                    if (cl.get("max") or 0) > 1000:
                        out.append(
                            f"{where}: a create during the watch took {cl['max']:.0f} ms "
                            f"(p50 {cl.get('p50')} ms); producer reached {r.get('rate_achieved_per_s')}"
                            f"/s of {r.get('rate_target_per_s')}/s"
                        )
                    elif (
                        r.get("rate_achieved_per_s")
                        and r["rate_achieved_per_s"] < 0.9 * r["rate_target_per_s"]
                    ):
                        out.append(
                            f"{where}: producer reached {r['rate_achieved_per_s']}/s of "
                            f"{r['rate_target_per_s']}/s"
                        )
    return out


def kbench_opt(extra: list[str], name: str, default: int) -> int:
    """The value of a kbench option among the pass-through arguments (--x N or --x=N)."""
    val = default
    for i, arg in enumerate(extra):
        if arg == name and i + 1 < len(extra):
            val = int(extra[i + 1])
        elif arg.startswith(name + "="):
            val = int(arg.split("=", 1)[1])
    return val


def run_kbench(
    kbench: Path,
    label: str,
    server_url: str,
    ca: str,
    token: str | None,
    pid: int,
    out_json: Path,
    reps: int,
    extra: list[str],
) -> tuple[int, list[str]]:
    argv = [
        str(PY),
        str(kbench),
        "--server",
        server_url,
        "--ca",
        ca,
        "--proc",
        f"{label}={pid}",
        "--label",
        label,
        "--reps",
        str(reps),
        "--out",
        str(out_json),
        *extra,
    ]
    env = dict(os.environ)
    if token:
        env["KBENCH_TOKEN"] = token  # not on the command line, so not in `ps`
    shown = " ".join(argv) + (" (token in KBENCH_TOKEN)" if token else "")
    log(f"kbench: {shown}")
    logpath = out_json.with_suffix(".kbench.log")
    with open(logpath, "w") as lf:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        for line in p.stderr:  # type: ignore[union-attr]
            sys.stderr.write(line)
            lf.write(line)
        rc = p.wait()
    return rc, [shown]


def main() -> int:
    argv = sys.argv[1:]
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--reps", type=int, default=3, help="kbench --reps")
    p.add_argument("--results", default=str(ROOT / "bench" / "results"), help="where results go")
    p.add_argument("--tag", default=None, help="file name prefix (default: UTC timestamp)")
    p.add_argument("--no-baseline", action="store_true", help="skip the aiohttp baseline target")
    p.add_argument("--no-ours", action="store_true", help="skip the vcluster target")
    p.add_argument("--keep-data", action="store_true", help="keep the temp data dirs")
    a = p.parse_args(argv)

    results = Path(a.results)
    results.mkdir(parents=True, exist_ok=True)
    tag = a.tag or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="vcluster-bench-"))
    kbench, kinfo = prepare_kbench(work)
    run: dict = {
        "tag": tag,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": machine_info(),
        "kbench": kinfo,
        "targets": {},
    }
    outputs: list[Path] = []
    problems: list[str] = []
    if kinfo["patched"]:
        problems.append(
            f"kbench: {kinfo['path']} does not compile ({kinfo['compile_error']}); "
            f"ran a copy with the fix: {kinfo['patch']}"
        )

    targets = []
    if not a.no_ours:
        targets.append("ours")
    if not a.no_baseline:
        targets.append("baseline")
    try:
        for name in targets:
            tdir = work / name
            tdir.mkdir()
            port = free_port()
            logfile = results / f"{tag}-{name}.server.log"
            if name == "ours":
                argv_s = [
                    str(PY),
                    "-m",
                    "vcluster",
                    "apiserver",
                    "--data-dir",
                    str(tdir / "data"),
                    "--port",
                    str(port),
                    # the API server alone, as kube-apiserver is measured (controllers run in
                    # kube-controller-manager there); bench/controllers.py measures ours
                    "--controllers=",
                ]
                ready = re.compile(r"ready at (https://\S+?);? kubeconfig (\S+)")
            else:
                argv_s = [
                    str(PY),
                    str(ROOT / "bench" / "baseline_server.py"),
                    "--list-items",
                    str(kbench_opt(extra, "--create-count", 2000)),
                    "--port",
                    str(port),
                    "--dir",
                    str(tdir),
                ]
                ready = re.compile(r"ready at (https://\S+?);? ca (\S+)")
            srv = Server(name, argv_s, ready, logfile)
            url = srv.match.group(1)
            if name == "ours":
                kc = yaml.safe_load(Path(srv.match.group(2)).read_text())
                token = kc["users"][0]["user"]["token"]
                ca = str(tdir / "data" / "pki" / "ca.crt")
                label = "vcluster"
            else:
                token, ca, label = None, srv.match.group(2), "aiohttp-baseline"
            out_json = results / f"{tag}-{name}.json"
            settled_mb = None
            try:
                rc, cmd = run_kbench(kbench, label, url, ca, token, srv.proc.pid, out_json, a.reps, extra)
                # kbench reads RSS right after the load; memory freed by the last requests is handed back
                # a moment later, so also record the resident size once the server has been idle 5 s.
                time.sleep(5)
                settled_mb = rss_mb(srv.proc.pid)
                log(f"{name}: resident memory after 5 s idle: {settled_mb} MB")
            finally:
                stop = srv.stop()
            scan = scan_log(logfile)
            t = {
                "server_argv": argv_s,
                "ready_line": srv.ready_line,
                "pid": srv.proc.pid,
                "kbench_cmd": cmd[0],
                "kbench_rc": rc,
                "stop": stop,
                "settled_rss_mb": settled_mb,
                "server_log": str(logfile),
                "server_log_scan": scan,
                "result": str(out_json),
            }
            run["targets"][name] = t
            if rc != 0:
                problems.append(f"{name}: kbench exited {rc} (see {out_json.with_suffix('.kbench.log')})")
            if not stop["alive_before_stop"]:
                problems.append(
                    f"{name}: server had exited before the end (rc {stop['returncode']}); see {logfile}"
                )
            elif stop.get("killed"):
                problems.append(f"{name}: server did not stop on SIGTERM within 30 s")
            elif stop["returncode"] not in (0, -signal.SIGTERM):
                problems.append(f"{name}: server exit code {stop['returncode']} after SIGTERM")
            if scan["problem_lines"]:
                problems.append(
                    f"{name}: {scan['problem_lines']} ERROR/WARNING/Traceback lines in {logfile}, "
                    f"first: {scan['samples'][0]}"
                )
            if out_json.exists():
                outputs.append(out_json)
                doc = json.loads(out_json.read_text())
                found = anomalies(doc)
                t["anomalies"] = found
                problems.extend(f"{name}: {x}" for x in found)
    finally:
        run["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        run["problems"] = problems
        (results / f"{tag}-run.json").write_text(json.dumps(run, indent=1) + "\n")

    report = ""
    if outputs:
        for o in outputs:
            report += (
                subprocess.run(
                    [str(PY), str(kbench), "--report", str(o)], capture_output=True, text=True
                ).stdout
                + "\n"
            )
        if len(outputs) > 1:
            report += subprocess.run(
                [str(PY), str(kbench), "--report", *map(str, outputs)], capture_output=True, text=True
            ).stdout
        report_path = results / f"{tag}-report.txt"
        report_path.write_text(report)
        print(report)
    print("problems:" if problems else "problems: none")
    for x in problems:
        print("  - " + x)
    print(f"results: {results}/{tag}-*")
    if not a.keep_data:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
