"""`make profile`: where a request's CPU goes, sampled by py-spy while wrk runs the steady mix.

Starts the service as `make bench` does (1 worker, BENCH_DATABASE_URL or an embedded PostgreSQL),
seeds the same users, and records the server with py-spy during one wrk run. Each sample is charged
to the innermost frame that belongs to a known layer (uvicorn, Starlette, FastAPI, Pydantic, psycopg,
the token check, the service's own modules...): a C call counts for the Python frame that made it.
Writes the split, and the busiest functions, to bench/results/profile.md (BENCH_PROFILE_OUT), and
the collapsed stacks beside it (profile.folded: speedscope and flamegraph.pl read them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, Result, database, same_flags, server, service_env, wrk
from bench.seed import ORGANIZED, bench_users, seed
from tests.support.ports import free_port

MIX = os.environ.get("BENCH_PROFILE_MIX", "list=70,create=10,remove=10,get=10")  # the steady mix
# BENCH_PROFILE_FLOOR=statements: the floor app runs the mix's own statements (bench/floor.py), so that
# the difference is the service's machinery alone; by default it runs its one trivial query.
FLOOR = (MIX, "/floor/") if os.environ.get("BENCH_PROFILE_FLOOR") == "statements" else ("floor=1", "/api/")
SECONDS = int(os.environ.get("BENCH_PROFILE_SECONDS", "15"))
# (layer, pattern of a frame's file): the first match from the innermost frame outwards wins.
LAYERS = [
    ("token check (PyJWT, cryptography)", r"(^|/)(jwt|cryptography)/"),
    ("psycopg, psycopg_pool", r"(^|/)psycopg(_pool|_binary)?/"),
    ("rate limiter (limits, redis)", r"(^|/)(limits|redis)/"),
    ("metrics (prometheus_client)", r"(^|/)prometheus_client/"),
    ("Pydantic", r"(^|/)pydantic(_core)?/"),
    ("FastAPI", r"(^|/)fastapi/"),
    ("Starlette", r"(^|/)starlette/"),
    ("uvicorn (HTTP, transport)", r"(^|/)(uvicorn|h11|httptools)/"),
    ("service: auth", r"(^|/)todo_api/auth/"),
    ("service: web, routes, dependencies", r"(^|/)todo_api/(web|routes|dependencies)"),
    ("service: observability", r"(^|/)todo_api/observability/"),
    ("service: db, tasks", r"(^|/)todo_api/(db|tasks)"),
    ("service: other", r"(^|/)todo_api/"),
    ("logging", r"(^|/)logging/"),
    ("asyncio (event loop)", r"(^|/)asyncio/"),
]
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def layer_of(frames: list[str]) -> tuple[str, str]:
    """The layer of a sample's stack (innermost frame first), and the frame it was charged to."""
    for frame in frames:
        match = _FRAME.match(frame)
        path = match.group("file") if match else frame
        for layer, pattern in LAYERS:
            if re.search(pattern, path):
                return layer, frame
    return "other", frames[0] if frames else "?"


def split(raw: str) -> tuple[Counter[str], Counter[str], int]:
    """Samples per layer and per charged function, from py-spy's `raw` (collapsed stacks) output."""
    layers: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame for frame in stack.split(";") if not frame.startswith(("process ", "thread "))]
        layer, frame = layer_of(frames[::-1])
        layers[layer] += int(count)
        functions[_short(frame)] += int(count)
        total += int(count)
    return layers, functions, total


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match.group("file")
    for marker in ("site-packages/", "todo_api/", "lib/python3"):
        if marker in path:
            path = path[path.index(marker) :]
            break
    return f"{match.group('function')} ({path})"


def report(profiles: dict[str, tuple[Counter[str], Counter[str], int, Result]]) -> str:
    """The service's split beside the floor's, in CPU ms per request (py-spy's own cost included)."""
    service, floor = profiles["service"], profiles["floor"]
    lines = [
        f"# Profile of the mix {MIX} ({SECONDS} s, py-spy at 250 Hz), beside the floor's"
        + (" (the floor app running the mix's own statements)" if FLOOR[1] == "/floor/" else ""),
        "",
        *(
            f"- {name}: {r.requests:,} requests, server CPU {r.cpu_ms_per_request:.3f} ms per request, "
            f"{total:,} samples"
            for name, (_, _, total, r) in profiles.items()
        ),
        "",
        "| layer | service: share | service ms/req | floor ms/req | difference |",
        "|---|---:|---:|---:|---:|",
    ]
    for layer, count in service[0].most_common():
        mine, theirs = _ms(service, layer), _ms(floor, layer)
        lines.append(
            f"| {layer} | {count / service[2]:.1%} | {mine:.3f} | {theirs:.3f} | {mine - theirs:+.3f} |"
        )
    lines += ["", "The service's busiest functions (their own samples, C calls included):", "",
              "| function | share |", "|---|---:|"]  # fmt: skip
    lines += [f"| `{name}` | {count / service[2]:.1%} |" for name, count in service[1].most_common(25)]
    return "\n".join(lines) + "\n"


def _ms(profile: tuple[Counter[str], Counter[str], int, Result], layer: str) -> float:
    layers, _, total, result = profile
    return result.cpu_ms_per_request * layers[layer] / max(total, 1)


def profiled(
    py_spy: str, port: int, pid: int, mix: str, users_file: Path, raw_file: Path, prefix: str
) -> Result:
    """One wrk run of `mix` while py-spy records the server into `raw_file`."""
    wrk(port, mix, users_file, "3s", pid, "warm-up", fields="organized", prefix=prefix)
    record = [py_spy, "record", "--pid", str(pid), "--rate", "250", "--duration", str(SECONDS),
              "--format", "raw", "--output", str(raw_file), "--nonblocking"]  # fmt: skip
    with subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as spy:
        result = wrk(port, mix, users_file, f"{SECONDS}s", pid, "profiled", fields="organized", prefix=prefix)
        spy.wait(timeout=SECONDS + 30)
    return result


def main() -> None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    profiles = {}
    with database() as (url, _), tempfile.TemporaryDirectory() as work:
        users_file = Path(work) / "users.txt"
        port, floor_port = free_port(), free_port()
        env = service_env(url, port)
        with (
            server([sys.executable, "-m", "todo_api"], env, port, "/ready") as pid,
            server(same_flags("bench.floor:app", floor_port), env, floor_port, "/floor") as floor_pid,
        ):
            seed(
                f"http://127.0.0.1:{port}",
                bench_users(f"bench-profile-{os.getpid()}", 50),
                20,
                ORGANIZED,
                users_file,
            )
            for name, target, mix, prefix in (
                ("service", (port, pid), MIX, "/api/"),
                ("floor", (floor_port, floor_pid), *FLOOR),
            ):
                raw_file = Path(work) / f"{name}.txt"
                result = profiled(py_spy, *target, mix, users_file, raw_file, prefix)
                profiles[name] = (*split(raw_file.read_text()), result)
                if name == "service":
                    raw = raw_file.read_text()
    text = report(profiles)
    out = Path(os.environ.get("BENCH_PROFILE_OUT", ROOT / "bench" / "results" / "profile.md"))
    out.write_text(text)
    out.with_suffix(".folded").write_text(raw)  # the service's collapsed stacks, for a flame graph
    print(text)


if __name__ == "__main__":
    main()
