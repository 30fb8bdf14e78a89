#!/usr/bin/env python3
"""Faults under load, overload and soak runs against a real fastkv cluster.

    scripts/chaos.py chaos    [--duration S] [--concurrency C] [--netns] [--faults LIST] [--fault-every S]
    scripts/chaos.py overload [--duration S] [--factor F]
    scripts/chaos.py soak     [--minutes M] [--sample-every S]
    common: [--run-dir DIR] [--model PATH] [--bin PATH] [--out FILE.json] [--timeout S]

chaos: 2 prefill + 2 decode workers (and a coordinator) under a steady closed-loop load of greedy
requests whose answers are known (computed first with `fastkv generate`). Faults, one at a time and
in turn over the roles, the coordinator included: kill -9 then restart, SIGSTOP for longer than the
worker timeout then SIGCONT, SIGTERM (graceful drain) then restart; with --netns the cluster runs on
emulated hosts (scripts/netns-cluster.sh) and a link cut (veth down, then up) joins the list. Every
request must end with the correct answer or a named error within its deadline (none wrong, none
late); afterwards every decode worker's KV is back to its capacity and the coordinator holds no
request. Exit status 1 when any of that fails.

overload: 1 prefill + 1 decode worker. The cluster's capacity is measured first (closed loop), then
requests arrive open loop at --factor times it. Every request must get a result or BUSY (or another
named error) within its deadline; the report gives admitted requests' latency percentiles and every
process's peak RSS, checked against --rss-limit-mb.

soak: a steady load for --minutes; every --sample-every seconds each process's RSS and open file
descriptors are recorded. The report gives first, last and peak per process and the growth; exit
status 1 when a process grows by more than --growth-limit-mb or --fd-growth-limit.

The load itself is `fastkv load` (one client per request in flight, every outcome classified).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [
    ("What is the capital of France?", True, "full"),
    ("Write one sentence about the sea.", True, "fastkv"),
    ("The quick brown fox jumps over the lazy dog. " * 12 + "Repeat the first word:", False, "fastkv"),
    ("List three primary colours.", True, "full"),
    ("In 1969, humans first landed on the Moon. " * 20 + "What happened in 1969?", True, "snapkv"),
    ("Count from one to five:", False, "full"),
]


def log(msg):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_fastkv(pid):
    try:
        return b"fastkv" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Proc:
    """One cluster process: its command line (so it can be restarted as it was), pid and log."""

    def __init__(self, name, argv, log_path, netns=None):
        self.name, self.argv, self.log_path, self.netns = name, argv, log_path, netns
        self.popen = None
        self.pid = None

    def start(self):
        cmd = (["ip", "netns", "exec", self.netns] if self.netns else []) + self.argv
        out = open(self.log_path, "ab")
        out.write(f"--- chaos: start {' '.join(cmd)}\n".encode())
        out.flush()
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        self.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
        self.pid = self.popen.pid
        out.close()

    @classmethod
    def adopt(cls, name, pid, log_path):
        """A process another script started (netns-cluster.sh): restartable from /proc."""
        argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        ns = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True).stdout.strip()
        p = cls(name, argv, log_path, netns=ns or None)
        p.pid = pid
        return p

    def signal(self, sig):
        if self.pid and is_fastkv(self.pid):
            os.kill(self.pid, sig)

    def wait_gone(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            if self.popen is not None:
                if self.popen.poll() is not None:
                    return True
            elif not is_fastkv(self.pid):
                return True
            time.sleep(0.1)
        return False

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return is_fastkv(self.pid)

    def rss_kb(self):
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None


class Cluster:
    def __init__(self, args, prefill, decode):
        self.args, self.bin, self.run_dir = args, args.bin, Path(args.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.procs = {}
        self.netns = args.netns if hasattr(args, "netns") else False
        self.prefill, self.decode = prefill, decode

    def up(self):
        if self.netns:
            r = subprocess.run([str(ROOT / "scripts/netns-cluster.sh"), "up", "--prefill", str(self.prefill),
                                "--decode", str(self.decode), "--run-dir", str(self.run_dir), "--model",
                                self.args.model], capture_output=True, text=True, timeout=180)
            if r.returncode != 0:
                raise SystemExit(f"netns-cluster.sh up failed: {r.stderr}")
            self.endpoint = (self.run_dir / "coordinator.endpoint").read_text().strip()
            for f in sorted(self.run_dir.glob("*.pid")):
                if f.stem.startswith("relay"):
                    continue
                self.procs[f.stem] = Proc.adopt(f.stem, int(f.read_text()), self.run_dir / f"{f.stem}.log")
        else:
            self.endpoint = f"tcp://127.0.0.1:{free_port()}"
            common = ["--model", self.args.model]
            coord = [self.bin, "coordinator", "--listen", self.endpoint, "--worker-timeout", "3"] + common
            self.procs["coordinator"] = Proc("coordinator", coord, self.run_dir / "coordinator.log")
            for i in range(1, self.prefill + 1):
                argv = [self.bin, "prefill-worker", "--coordinator", self.endpoint, "--drain-timeout", "10"] + common
                self.procs[f"prefill-{i}"] = Proc(f"prefill-{i}", argv, self.run_dir / f"prefill-{i}.log")
            for i in range(1, self.decode + 1):
                argv = [self.bin, "decode-worker", "--coordinator", self.endpoint, "--drain-timeout", "10",
                        "--max-kv-bytes", str(self.args.max_kv_bytes)] + common
                self.procs[f"decode-{i}"] = Proc(f"decode-{i}", argv, self.run_dir / f"decode-{i}.log")
            for p in self.procs.values():
                p.start()
        self.wait_ready(90)

    def wait_ready(self, seconds):
        r = subprocess.run([self.bin, "cluster-status", "--coordinator", self.endpoint, "--wait-prefill",
                            str(self.prefill), "--wait-decode", str(self.decode), "--wait-seconds", str(seconds)],
                           capture_output=True, text=True, timeout=seconds + 30)
        if r.returncode != 0:
            raise SystemExit(f"cluster not ready: {r.stderr.strip()} (logs in {self.run_dir})")

    def status(self):
        r = subprocess.run([self.bin, "cluster-status", "--coordinator", self.endpoint, "--json", "--timeout", "3"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def down(self):
        """Stops every process of the cluster. In netns mode netns-cluster.sh stops what it started
        (by its pid files) and the namespaces; a process chaos restarted itself has a pid the script
        never knew, so whatever is still alive after it is stopped here one by one.
        Returns the names of the processes still alive at the end (none, unless SIGKILL failed)."""
        if self.netns:
            subprocess.run([str(ROOT / "scripts/netns-cluster.sh"), "down", "--run-dir", str(self.run_dir)],
                           capture_output=True, timeout=120)
        running = [p for p in self.procs.values() if p.alive()]
        for p in running:
            p.signal(signal.SIGCONT)
            p.signal(signal.SIGTERM)
        for p in running:
            if not p.wait_gone(15):
                p.signal(signal.SIGKILL)
                p.wait_gone(5)
        return [n for n, p in self.procs.items() if p.alive()]

    def settle(self, seconds=20):
        """Waits until the coordinator holds no request and every decode worker's KV is free.
        Returns (settled, last status, why not: one line naming what is still held, or "")."""
        end, last, why = time.time() + seconds, None, "cluster-status never answered"
        while time.time() < end:
            s = self.status()
            last = s
            if s is not None:
                why = unsettled_reason(s, self.decode)
                if not why:
                    return True, s, ""
            time.sleep(0.5)
        return False, last, why


def unsettled_reason(s, decode_workers):
    """What a cluster-status report still holds ("" when nothing): requests, missing or busy decode workers."""
    held = []
    if s["waiting_requests"] or s["running_requests"]:
        held.append(f"coordinator holds {s['waiting_requests']} waiting and {s['running_requests']} running requests")
    decode = [w for w in s["workers"] if w["role"] == "decode"]
    if len(decode) != decode_workers:
        held.append(f"{len(decode)} decode workers registered, expected {decode_workers}")
    for w in decode:
        if w["free_kv_bytes"] != w["kv_capacity_bytes"] or w["active_sequences"]:
            held.append(f"decode worker {w.get('id', '?')}: {w['active_sequences']} sequences, "
                        f"{w['kv_capacity_bytes'] - w['free_kv_bytes']} KV bytes held")
    return "; ".join(held)


def print_log_tails(cluster, lines=6):
    """The last lines of every process log, on stderr: the evidence of a failed run whose run
    directory is a test's temporary one."""
    for name, p in cluster.procs.items():
        try:
            tail = Path(p.log_path).read_text(errors="replace").splitlines()[-lines:]
        except OSError as e:
            tail = [f"(no log: {e})"]
        print(f"--- {name}: " + "\n    ".join(tail), file=sys.stderr)


def expected_answers(args, path):
    """The greedy answer of every prompt from `fastkv generate` (the engine alone), as `fastkv load` specs."""
    lines = []
    for text, chat, method in PROMPTS:
        cmd = [args.bin, "generate", "--model", args.model, "--prompt", text, "--max-tokens", str(args.max_tokens),
               "--method", method, "--json"] + (["--chat"] if chat else [])
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"generate failed: {r.stderr}")
        tokens = json.loads(r.stdout)["tokens"]
        lines.append(json.dumps({"prompt": text, "chat": chat, "method": method, "max_tokens": args.max_tokens,
                                 "expect": tokens}))
    Path(path).write_text("\n".join(lines) + "\n")


def start_load(args, cluster, duration, out, rate=0.0, concurrency=4):
    cmd = [args.bin, "load", "--coordinator", cluster.endpoint, "--prompts", str(cluster.run_dir / "prompts.jsonl"),
           "--duration", str(duration), "--timeout", str(args.timeout), "--concurrency", str(concurrency),
           "--rate", str(rate), "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_load(load, budget):
    out, err = load.communicate(timeout=budget)
    if load.returncode != 0:
        raise SystemExit(f"fastkv load failed: {err}")
    return json.loads(out.strip().splitlines()[-1])


def read_outcomes(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]


# ------------------------------------------------------------------------------------------ chaos

def apply_fault(cluster, kind, name, pause):
    p = cluster.procs[name]
    if kind == "kill":
        log(f"kill -9 {name} (pid {p.pid}); restart in 1 s")
        p.signal(signal.SIGKILL)
        p.wait_gone(10)
        time.sleep(1)
        p.start()
    elif kind == "term":
        log(f"SIGTERM {name} (pid {p.pid}): drain and leave; then restart")
        p.signal(signal.SIGTERM)
        if not p.wait_gone(30):
            raise SystemExit(f"{name} did not leave within 30 s of SIGTERM")
        p.start()
    elif kind == "stop":
        log(f"SIGSTOP {name} (pid {p.pid}) for {pause} s, then SIGCONT")
        p.signal(signal.SIGSTOP)
        time.sleep(pause)
        p.signal(signal.SIGCONT)
    elif kind == "cut":
        ns = "fkv-" + ("coord" if name == "coordinator" else name.replace("prefill-", "p").replace("decode-", "d"))
        dev = f"p-{ns}"[:15]
        log(f"link cut: {dev} down for {pause} s")
        subprocess.run(["ip", "-n", "fkv-net", "link", "set", dev, "down"], check=True)
        time.sleep(pause)
        subprocess.run(["ip", "-n", "fkv-net", "link", "set", dev, "up"], check=True)
    else:
        raise SystemExit(f"unknown fault {kind}")


def chaos(args):
    cluster = Cluster(args, prefill=2, decode=2)
    expected_answers(args, cluster.run_dir / "prompts.jsonl")
    cluster.up()
    kinds = args.faults.split(",")
    if "cut" in kinds and not args.netns:
        raise SystemExit("--faults cut needs --netns (emulated hosts)")
    roles = ["prefill-1", "decode-1", "coordinator", "prefill-2", "decode-2"]
    # Kinds and roles advance together (3 kinds, 5 roles: coprime), so a short run still sees every
    # kind and every role, and the full cycle is every (kind, role) pair once.
    n = len(kinds) * len(roles)
    schedule = [(kinds[i % len(kinds)], roles[i % len(roles)]) for i in range(n)]
    report = {"mode": "chaos", "faults": []}
    outcomes_path = cluster.run_dir / "outcomes.jsonl"
    try:
        load = start_load(args, cluster, args.duration, outcomes_path, concurrency=args.concurrency)
        t0 = time.time()
        i = 0
        time.sleep(args.fault_every)
        while time.time() - t0 < args.duration - args.fault_every and i < len(schedule):
            kind, name = schedule[i]
            apply_fault(cluster, kind, name, args.pause)
            report["faults"].append({"at_s": round(time.time() - t0, 1), "fault": kind, "process": name})
            i += 1
            time.sleep(args.fault_every)
        summary = finish_load(load, args.duration + args.timeout + 120)
        # A request its client gave up on (COORDINATOR_LOST while the coordinator's link was cut)
        # lives on in the coordinator until it ends or its deadline passes: anything still held one
        # deadline plus 30 s after the load ended is a leak.
        settled, status, unsettled = cluster.settle(args.timeout + 30)
        outcomes = read_outcomes(outcomes_path)
        bad = [o for o in outcomes if o["outcome"] in ("wrong", "late", "client_error")]
        over = [o for o in outcomes if o["latency_ms"] > (args.timeout + 2) * 1000]
        alive = {n: p.alive() for n, p in cluster.procs.items()}
        # Every process, the restarted ones included, must be gone once the cluster is down.
        left_running = cluster.down()
        report.update({"load": summary, "settled": settled, "unsettled": unsettled, "final_status": status, "processes_alive": alive,
                       "left_running_after_down": left_running,
                       "wrong_or_late": len(bad), "past_deadline": len(over), "examples": bad[:5]})
        ok = settled and not bad and not over and all(alive.values()) and not left_running
        report["passed"] = ok
        emit(args, report)
        if not ok:
            print_log_tails(cluster)
        return 0 if ok else 1
    finally:
        cluster.down()


# --------------------------------------------------------------------------------------- overload

def overload(args):
    cluster = Cluster(args, prefill=1, decode=1)
    expected_answers(args, cluster.run_dir / "prompts.jsonl")
    cluster.up()
    peaks = {}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for n, p in cluster.procs.items():
                r = p.rss_kb()
                if r:
                    peaks[n] = max(peaks.get(n, 0), r)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        cap = finish_load(start_load(args, cluster, args.capacity_seconds, cluster.run_dir / "capacity.jsonl",
                                     concurrency=4), args.capacity_seconds + args.timeout + 60)
        capacity = cap["ok_per_second"]
        rate = max(1.0, capacity * args.factor)
        log(f"capacity {capacity:.2f} requests/s (closed loop, 4 in flight); overload at {rate:.1f}/s for {args.duration} s")
        summary = finish_load(start_load(args, cluster, args.duration, cluster.run_dir / "overload.jsonl", rate=rate,
                                         concurrency=512), args.duration + args.timeout + 120)
        settled, status, unsettled = cluster.settle(60)
        outcomes = read_outcomes(cluster.run_dir / "overload.jsonl")
        bad = [o for o in outcomes if o["outcome"] in ("wrong", "late", "client_error")]
        over = [o for o in outcomes if o["latency_ms"] > (args.timeout + 2) * 1000]
        busy = [o for o in outcomes if o["outcome"] == "BUSY"]
        busy_ms = sorted(o["latency_ms"] for o in busy)
        stop.set()
        peak_mb = {n: round(kb / 1024, 1) for n, kb in peaks.items()}
        report = {"mode": "overload", "capacity_per_s": capacity, "offered_per_s": rate, "load": summary,
                  "busy_with_retry_after": sum(1 for o in busy if o.get("retry_after_ms")),
                  "busy_latency_ms_p50": busy_ms[len(busy_ms) // 2] if busy_ms else None,
                  "wrong_or_late": len(bad), "past_deadline": len(over), "settled": settled, "unsettled": unsettled,
                  "final_status": status, "peak_rss_mb": peak_mb, "rss_limit_mb": args.rss_limit_mb}
        ok = (settled and not bad and not over and all(v <= args.rss_limit_mb for v in peak_mb.values())
              and summary["outcomes"].get("ok", 0) > 0)
        report["passed"] = ok
        emit(args, report)
        return 0 if ok else 1
    finally:
        stop.set()
        cluster.down()


# ------------------------------------------------------------------------------------------- soak

def soak(args):
    cluster = Cluster(args, prefill=1, decode=1)
    expected_answers(args, cluster.run_dir / "prompts.jsonl")
    cluster.up()
    seconds = args.minutes * 60
    samples = []
    try:
        load = start_load(args, cluster, seconds, cluster.run_dir / "soak.jsonl", concurrency=args.concurrency)
        t0 = time.time()
        while load.poll() is None:
            row = {"t_s": round(time.time() - t0)}
            for n, p in cluster.procs.items():
                row[n] = {"rss_mb": round((p.rss_kb() or 0) / 1024, 1), "fds": p.fds()}
            samples.append(row)
            log(" ".join(f"{n}: {v['rss_mb']} MB {v['fds']} fds" for n, v in row.items() if n != "t_s"))
            time.sleep(args.sample_every)
        summary = finish_load(load, 60)
        settled, status, unsettled = cluster.settle(30)
        growth = {}
        for n in cluster.procs:
            # Growth from the first sample after warm-up (a tenth of the run) to the last.
            series = [s[n] for s in samples if n in s]
            base = series[min(len(series) - 1, max(1, len(series) // 10))]
            growth[n] = {"rss_mb_first": series[0]["rss_mb"], "rss_mb_after_warmup": base["rss_mb"],
                         "rss_mb_last": series[-1]["rss_mb"], "rss_mb_peak": max(s["rss_mb"] for s in series),
                         "fds_first": series[0]["fds"], "fds_last": series[-1]["fds"],
                         "rss_growth_mb": round(series[-1]["rss_mb"] - base["rss_mb"], 1),
                         "fd_growth": (series[-1]["fds"] or 0) - (base["fds"] or 0)}
        outcomes = read_outcomes(cluster.run_dir / "soak.jsonl")
        bad = [o for o in outcomes if o["outcome"] in ("wrong", "late", "client_error")]
        report = {"mode": "soak", "minutes": args.minutes, "load": summary, "growth": growth, "samples": samples,
                  "wrong_or_late": len(bad), "settled": settled, "unsettled": unsettled, "final_status": status}
        ok = (settled and not bad and all(g["rss_growth_mb"] <= args.growth_limit_mb and g["fd_growth"] <= args.fd_growth_limit
                                          for g in growth.values()))
        report["passed"] = ok
        emit(args, report)
        return 0 if ok else 1
    finally:
        cluster.down()


def emit(args, report):
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text + "\n")
    summary = {k: v for k, v in report.items() if k not in ("samples", "final_status", "examples")}
    print(json.dumps(summary, indent=2, sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["chaos", "overload", "soak"])
    ap.add_argument("--run-dir", default=None)
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--bin", default=os.environ.get("FASTKV_BIN", str(ROOT / ".build/release/fastkv")))
    ap.add_argument("--out", default=None, help="write the full report (JSON) here")
    ap.add_argument("--timeout", type=float, default=30, help="per-request deadline, seconds")
    ap.add_argument("--max-tokens", type=int, default=12)
    ap.add_argument("--max-kv-bytes", type=int, default=512 << 20)
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--netns", action="store_true", help="chaos on emulated hosts (needs root)")
    ap.add_argument("--faults", default="kill,stop,term", help="comma list of kill,stop,term,cut")
    ap.add_argument("--fault-every", type=float, default=8)
    ap.add_argument("--pause", type=float, default=5, help="SIGSTOP / link cut length, seconds")
    ap.add_argument("--factor", type=float, default=10)
    ap.add_argument("--capacity-seconds", type=float, default=20)
    ap.add_argument("--rss-limit-mb", type=float, default=1024)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--sample-every", type=float, default=30)
    ap.add_argument("--growth-limit-mb", type=float, default=32)
    ap.add_argument("--fd-growth-limit", type=int, default=8)
    args = ap.parse_args()
    args.run_dir = args.run_dir or str(ROOT / "runs" / args.mode)
    if not Path(args.bin).exists():
        raise SystemExit(f"{args.bin} is missing: swift build -c release --product fastkv")
    sys.exit({"chaos": chaos, "overload": overload, "soak": soak}[args.mode](args))


if __name__ == "__main__":
    main()
