"""Litmus benchmark: the kernel's litmus suite under LKMM (cat), under the engine's own LKMM,
and under the engine's SC.

For every test of ``../shared/lkmm/tests``: seconds and candidate executions under
``linux-kernel.cfg``, seconds under the engine's ``lkmm`` (exploration with dependencies and
load buffering, the model in Python), and seconds under the engine's ``sc`` (the baseline
measured in the same run, so the ratios say what each LKMM costs over native SC exploration).
Prints a per-test table (the slowest first) and the folder totals.

Then the start-up row: the kernel's scripts run one process per test, so the folder is also run
that way (``rmapwalk litmus --conf linux-kernel.cfg TEST`` and ``--model lkmm``, one process per
test), with an empty cache (the first process compiles the model, every test is parsed) and with
the warm cache a second pass finds, against the one-process totals above, and the ten slowest
tests one process each.  Then served: ``rmapwalk serve`` answering each process, started by each
way there is (pip's console script, the Python client ``make`` writes, which starts Python
without ``site``, and its native client where a C compiler builds it: see
:mod:`rmapwalk.fastclient`), and with ``RMAPWALK_SERVER=auto``.  herd7 is timed the same way when
it is on the PATH, just before each served pass, so that each ratio is of two passes next to each
other in time.

Skips with a message when ``../shared/lkmm`` is absent.  Run by ``make bench``; ``--quick`` runs
only ten tests.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rmapwalk.litmus.runner import ModelSpec, run_test  # noqa: E402

LKMM = ROOT.parent / "shared" / "lkmm"


def main() -> int:
    cfg = LKMM / "model" / "linux-kernel.cfg"
    tests = sorted((LKMM / "tests").glob("*.litmus"))
    if not cfg.is_file() or not tests:
        print(f"litmus benchmark skipped: no LKMM files at {LKMM}")
        return 0
    if "--quick" in sys.argv:
        tests = tests[:10]
    lkmm = ModelSpec(conf=str(cfg))
    sc = ModelSpec(engine="sc")
    eng = ModelSpec(engine="lkmm")
    t0 = time.perf_counter()
    run_test(str(tests[0]), lkmm)  # loads and compiles the model once (reported separately)
    load = time.perf_counter() - t0
    rows = []
    total_cat = total_sc = total_eng = 0.0
    for path in tests:
        t = time.perf_counter()
        res = run_test(str(path), lkmm)
        cat_s = time.perf_counter() - t
        t = time.perf_counter()
        run_test(str(path), sc)
        sc_s = time.perf_counter() - t
        t = time.perf_counter()
        run_test(str(path), eng)
        eng_s = time.perf_counter() - t
        total_cat += cat_s
        total_sc += sc_s
        total_eng += eng_s
        rows.append((path.stem, res.candidates, res.pruned, res.positive + res.negative, cat_s, sc_s, eng_s))
    rows.sort(key=lambda r: -r[4])
    times = sorted(r[4] for r in rows)
    median = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    print(f"litmus: {len(tests)} tests of {LKMM / 'tests'}; LKMM model load + first test {load:.2f} s")
    head = (f"{'test':44} {'cands':>6} {'pruned':>6} {'execs':>6} {'cat s':>7} {'eng s':>7} {'sc s':>6} "
            f"{'cat/sc':>6} {'eng/sc':>6}")
    print(head)
    print("-" * len(head))
    for name, cands, pruned, execs, cat_s, sc_s, eng_s in rows[:15]:
        ratio = cat_s / sc_s if sc_s > 0 else float("inf")
        eratio = eng_s / sc_s if sc_s > 0 else float("inf")
        print(f"{name[:44]:44} {cands:6d} {pruned:6d} {execs:6d} {cat_s:7.3f} {eng_s:7.3f} {sc_s:6.3f} "
              f"{ratio:5.1f}x {eratio:5.1f}x")
    if len(rows) > 15:
        print(f"... {len(rows) - 15} faster tests")
    print(f"folder: LKMM (cat) {total_cat:.2f} s (median {median:.3f} s, slowest {rows[0][4]:.2f} s: {rows[0][0]}),"
          f" engine LKMM {total_eng:.2f} s, engine SC {total_sc:.2f} s; cat/sc {total_cat / total_sc:.1f}x,"
          f" engine-lkmm/sc {total_eng / total_sc:.1f}x, engine-lkmm/cat {total_eng / total_cat:.2f}x")
    herd = shutil.which("herd7")
    herd_s = None
    if herd:
        t = time.perf_counter()
        for path in tests:
            subprocess.run([herd, "-conf", str(cfg), str(path)], capture_output=True, cwd=cfg.parent, check=False)
        herd_s = time.perf_counter() - t
        print(f"herd7 on the same tests: {herd_s:.2f} s; rmapwalk/herd7 = {total_cat / herd_s:.1f}x")
    else:
        print("herd7 is not on the PATH: no herd7 column")
    per_process(tests, cfg, total_cat, total_eng, herd_s)
    return 0


def _command() -> list[str]:
    """How the kernel's scripts would start rmapwalk: the installed ``rmapwalk`` command next to this
    Python if there is one (pip's console script, or the fast client ``make`` writes over it), else
    ``python -m rmapwalk.cli``."""
    script = Path(sys.executable).with_name("rmapwalk")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "rmapwalk.cli"]


class Served(NamedTuple):
    """One served pass of the folder: wall seconds, the clients' and the server's CPU seconds
    (None: not measured), and herd7's (wall, CPU) seconds in the pass just before it."""

    wall: float
    client_cpu: float
    server_cpu: float | None
    herd: tuple[float, float] | None


#: pip's console script for ``rmapwalk.launch:main`` (what the command is without the fast client)
PIP_SCRIPT = """#!{python}
import sys
from rmapwalk.launch import main
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit(main())
"""


def _clients(tmp: str) -> dict[str, list[str]]:
    """The ways of starting ``rmapwalk`` that a server can answer, each written here for this
    tree's package and this Python (whatever is installed): pip's console script, the Python
    client (``python -S``) and, where a C compiler builds it, the native client."""
    from rmapwalk import fastclient

    package = str(ROOT / "src" / "rmapwalk")
    pip = Path(tmp, "pip", "rmapwalk")
    pip.parent.mkdir()
    pip.write_text(PIP_SCRIPT.format(python=sys.executable))
    pip.chmod(0o755)
    out = {"pip's console script": [str(pip)]}
    python = os.path.join(tmp, "py", "bin", "rmapwalk")
    native = os.path.join(tmp, "c", "bin", "rmapwalk")
    for command in (python, native):
        os.makedirs(os.path.dirname(command))
    fastclient.write(python, python=sys.executable, package=package, cc=None)
    out["Python client (-S)"] = [python]
    cc = fastclient.compiler()
    if cc is not None and fastclient.write(native, python=sys.executable, package=package, cc=cc) == "native":
        out["native client"] = [native]
    return out


def per_process(tests: list[Path], cfg: Path, one_cat: float, one_eng: float, herd_s: float | None) -> None:
    """One process per test, cold cache then warm, for the cat back end and the engine's lkmm;
    then served, by each client (see :func:`_served`).

    The sources are byte-compiled first, as an installed package's are (with
    PYTHONDONTWRITEBYTECODE set, every process would otherwise compile them again)."""
    cmd = _command()
    compile_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], capture_output=True,
                   env=compile_env, check=False)
    with tempfile.TemporaryDirectory(prefix="rmapwalk-bench-cache-") as cache_dir:
        env = {**os.environ, "RMAPWALK_CACHE_DIR": cache_dir, "PYTHONPATH": str(ROOT / "src")}
        env.pop("RMAPWALK_SERVER", None)
        totals: dict[tuple[str, str], tuple[float, float]] = {}
        warm_cat: list[tuple[float, float, str]] = []
        for back, args in (("cat", ["--conf", str(cfg)]), ("lkmm", ["--model", "lkmm"])):
            for temp in ("cold", "warm"):
                runs = _one_process_each(cmd, args, tests, env)
                totals[back, temp] = (sum(r[0] for r in runs), sum(r[1] for r in runs))
                if back == "cat" and temp == "warm":
                    warm_cat.extend((dt, cpu, path.stem) for dt, cpu, path, _ in runs)
                if back == "cat" and temp == "warm":  # the cold lkmm pass starts from no parsed tests too
                    for entry in Path(cache_dir).glob("litmus-test-*"):
                        entry.unlink()
        served, herd_near = _served(tests, cfg, _clients(cache_dir), env, cache_dir)
    n = len(tests)
    print(f"one process per test ({' '.join(cmd[-1:])} litmus ... TEST, {n} processes; cold: empty cache, warm: "
          "model and tests cached; wall seconds, and CPU seconds, which a loaded machine does not inflate):")
    for back, one in (("cat", one_cat), ("lkmm", one_eng)):
        label = "LKMM (cat)" if back == "cat" else "engine LKMM"
        (cold, cold_cpu), (warm, warm_cpu) = totals[back, "cold"], totals[back, "warm"]
        print(f"  {label:12} cold {cold:6.2f} s ({cold / n:.3f} s/test, CPU {cold_cpu / n:.3f}), "
              f"warm {warm:6.2f} s ({warm / n:.3f} s/test, CPU {warm_cpu / n:.3f}); one process {one:.2f} s")
    print("served, one process per test (the server started first), wall seconds and CPU milliseconds a test "
          "(the clients' and the server's, which a loaded machine does not inflate), against herd7 timed just "
          "before each pass" + (f" (mean {herd_near:.2f} s, {herd_near / n * 1000:.1f} ms/test)" if herd_near else "")
          + ":")
    for (back, how), p in served.items():
        label = "LKMM (cat)" if back == "cat" else "engine LKMM"
        warm = totals[back, "warm"][0]
        cpu = f"CPU {p.client_cpu / n * 1000:4.1f}" + (f" + {p.server_cpu / n * 1000:4.1f}" if p.server_cpu is not None
                                                     else " + server start")
        vs = (f"; {p.wall / p.herd[0]:.2f}x herd7's {p.herd[0]:.2f} s (CPU {p.herd[1] / n * 1000:4.1f})"
              if p.herd else "")
        print(f"  {label:12} {how:38} {p.wall:5.2f} s ({p.wall / n * 1000:5.1f} ms/test, {cpu}){vs}; "
              f"{warm / p.wall:4.1f}x faster than warm")
    if herd_s is not None:
        print(f"  herd7        {herd_s:6.2f} s in the first pass ({herd_s / n:.3f} s/test); "
              f"rmapwalk warm cat/herd7 = {totals['cat', 'warm'][0] / herd_s:.2f}x")
    warm_cat.sort(reverse=True)
    print("  slowest ten (LKMM cat, warm, one process each; wall/CPU s): "
          + ", ".join(f"{name} {dt:.3f}/{cpu:.3f}" for dt, cpu, name in warm_cat[:10]))


def _herd(tests: list[Path], cfg: Path) -> tuple[float, float] | None:
    """herd7's wall and CPU seconds on the tests, one process each as the kernel's scripts run
    it; None if it is not on the PATH."""
    herd = shutil.which("herd7")
    if herd is None:
        return None
    c, t = _children_cpu(), time.perf_counter()
    for path in tests:
        subprocess.run([herd, "-conf", str(cfg), str(path)], capture_output=True, cwd=cfg.parent, check=False)
    return time.perf_counter() - t, _children_cpu() - c


def _cpu_of(pid: int) -> float:
    """CPU seconds (user and system) a running process has used so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _served(tests: list[Path], cfg: Path, clients: dict[str, list[str]], env: dict[str, str], tmp: str
            ) -> tuple[dict[tuple[str, str], Served], float | None]:
    """The same processes with ``$RMAPWALK_SERVER`` naming a running ``rmapwalk serve`` (started
    first, its start-up not counted: it is paid once for any number of tests), for each client,
    herd7 timed just before each pass (this machine's load drifts); then ``RMAPWALK_SERVER=auto``
    with the last client, the server's start counted.  Every pass checks that each test was
    served (``$RMAPWALK_DEBUG`` would say otherwise) and, for the native client, that its request
    is launch's own (it would otherwise hand each test to the Python client).  Returns
    {(back end, how): Served} and herd7's mean wall seconds."""
    sock = os.path.join(tmp, "serve.sock")
    proc = subprocess.Popen([sys.executable, "-m", "rmapwalk.cli", "serve", "--socket", sock], env=env,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    proc.stderr.readline()  # the server says where it listens once it does
    out: dict[tuple[str, str], Served] = {}
    herds: list[float] = []
    try:
        senv = {**env, "RMAPWALK_SERVER": sock, "RMAPWALK_DEBUG": "1"}
        if "native client" in clients:
            _check_request(clients["native client"], senv, tmp)
        for back, args in (("cat", ["--conf", str(cfg)]), ("lkmm", ["--model", "lkmm"])):
            for how, cmd in clients.items():
                subprocess.run([*cmd, "litmus", *args, str(tests[0])], capture_output=True, env=senv, check=False)
                herd = _herd(tests, cfg)
                if herd is not None:
                    herds.append(herd[0])
                server_cpu = _cpu_of(proc.pid)
                runs = _one_process_each(cmd, args, tests, senv)
                server_cpu = _cpu_of(proc.pid) - server_cpu
                for _, _, path, r in runs:
                    assert b"Observation" in r.stdout and b"running here" not in r.stderr, (how, path, r.stderr)
                out[back, how] = Served(sum(r[0] for r in runs), sum(r[1] for r in runs), server_cpu, herd)
    finally:
        proc.terminate()
        proc.wait()
    # RMAPWALK_SERVER=auto: no server at first; the first process starts one (its cost counted)
    run_dir = os.path.join(tmp, "auto")
    os.mkdir(run_dir)
    aenv = {**env, "RMAPWALK_SERVER": "auto", "XDG_RUNTIME_DIR": run_dir, "RMAPWALK_SERVER_IDLE": "2"}
    how = list(clients)[-1]
    herd = _herd(tests, cfg)
    runs = _one_process_each(clients[how], ["--conf", str(cfg)], tests, aenv)
    out["cat", f"{how}, RMAPWALK_SERVER=auto"] = Served(sum(r[0] for r in runs), sum(r[1] for r in runs), None,
                                                          herd)
    sock = os.path.join(run_dir, f"rmapwalk-{os.getuid()}", "server.sock")
    deadline = time.monotonic() + 60
    while os.path.exists(sock) and time.monotonic() < deadline:  # (it exits once idle)
        time.sleep(0.1)
    return out, (sum(herds) / len(herds) if herds else None)


def _check_request(cmd: list[str], env: dict[str, str], tmp: str) -> None:
    """The native client's request for a litmus command is byte for byte what launch.py sends."""
    import _socket

    from rmapwalk.launch import code_fingerprint, encode_request

    path = os.path.join(tmp, "check.sock")
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    proc = subprocess.Popen([*cmd, "litmus", "x.litmus"], env={**env, "RMAPWALK_SERVER": path}, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fd, _ = listener._accept()
    conn = _socket.socket(fileno=fd)
    data = b""
    while chunk := conn.recv(1 << 16):
        data += chunk
    conn.sendall(b"ok 0 0 0\n")
    conn.close()
    listener.close()
    proc.wait()
    assert data == encode_request(code_fingerprint(), os.path.realpath(tmp), ["litmus", "x.litmus"]), data[:300]


def _one_process_each(cmd: list[str], args: list[str], tests: list[Path], env: dict[str, str]
                      ) -> list[tuple[float, float, Path, subprocess.CompletedProcess[bytes]]]:
    """``rmapwalk litmus ARGS TEST`` once per test: (wall s, CPU s, test, the process) each."""
    out = []
    for path in tests:
        c, t = _children_cpu(), time.perf_counter()
        r = subprocess.run([*cmd, "litmus", *args, str(path)], capture_output=True, env=env, check=False)
        out.append((time.perf_counter() - t, _children_cpu() - c, path, r))
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    raise SystemExit(main())
