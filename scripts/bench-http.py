#!/usr/bin/env python3
"""Load benchmark of the OpenAI-compatible gateway over HTTP: full KV against FastKV.

    .venv/bin/python3 scripts/bench-http.py --url http://127.0.0.1:8000 --out runs/bench-http \
        [--configs full,fastkv:0.1:0.2] [--concurrency 1,8,64] [--rates 2,8] [--requests 64] \
        [--prompt-tokens 1000] [--max-tokens 32] [--coordinator tcp://127.0.0.1:5555 --fastkv .build/release/fastkv]

Each request streams (`stream: true`, `include_usage`) with a fixed output length (`ignore_eos`).
Closed loop: `--concurrency C` keeps C streams in flight until `--requests` have run. Open loop:
`--rates R` sends Poisson arrivals at R requests/s. Per level it records TTFT (request sent → first
text chunk), inter-token latency (gaps between chunks, spread over the tokens of a chunk), end-to-end
latency, errors, requests/s and generated tokens/s. With `--coordinator` it also compares TTFT over
HTTP with `fastkv submit` for the same prompt, sequentially, and times /metrics scrapes.
Writes results.json, results.csv, README.md and gnuplot charts (PNG) into --out.
"""
import argparse, asyncio, json, os, platform, random, shutil, socket, statistics, subprocess, sys, time, urllib.parse

import httpx

ap = argparse.ArgumentParser()
ap.add_argument("--url", default="http://127.0.0.1:8000")
ap.add_argument("--out", default="runs/bench-http")
ap.add_argument("--configs", default="full,fastkv:0.1:0.2", help="full or fastkv:KV_RATE:TSP_RATE, comma-separated")
ap.add_argument("--concurrency", default="1,8,64")
ap.add_argument("--rates", default="", help="open-loop request rates (requests/s), comma-separated")
ap.add_argument("--requests", type=int, default=16, help="requests per level (a closed-loop level runs at least one per stream)")
ap.add_argument("--prompt-tokens", type=int, default=1000, help="approximate prompt length")
ap.add_argument("--max-tokens", type=int, default=32)
ap.add_argument("--timeout", type=float, default=600)
ap.add_argument("--coordinator", default="", help="also compare TTFT with `fastkv submit` against this coordinator")
ap.add_argument("--fastkv", default=".build/release/fastkv")
ap.add_argument("--compare-runs", type=int, default=30)
ap.add_argument("--note", default="", help="a line for the README (e.g. the machine was shared)")
args = ap.parse_args()

FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
# About 21 tokens per filler sentence group for SmolLM2's tokenizer.
PROMPT = FILLER * max(1, args.prompt_tokens // 21) + "\nSummarize the text above in one sentence:"


def compression(config):
    if config == "full":
        return {"method": "full"}
    method, r, rho = config.split(":")
    return {"method": method, "kv_rate": float(r), "tsp_rate": float(rho)}


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def sse_chunk(line):
    """The JSON chunk of one server-sent-events line (str or bytes), or None for any other line
    (comments, blank separators, `data: [DONE]`)."""
    text = line.decode() if isinstance(line, bytes) else line
    text = text.rstrip("\r")
    if not text.startswith("data: ") or text == "data: [DONE]":
        return None
    return json.loads(text[6:])


def has_text(chunk):
    return bool(chunk and chunk.get("choices") and chunk["choices"][0].get("text"))


async def one(client, model, config, sent_at=None):
    body = {"model": model, "prompt": PROMPT, "max_tokens": args.max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "ignore_eos": True, "kv_compression": compression(config)}
    t0 = time.perf_counter() if sent_at is None else sent_at
    first, last, gaps, tokens, error, ext = None, None, [], 0, None, None
    try:
        async with client.stream("POST", "/v1/completions", json=body) as r:
            if r.status_code != 200:
                return {"error": f"HTTP {r.status_code}: {(await r.aread()).decode()[:200]}"}
            async for line in r.aiter_lines():
                chunk = sse_chunk(line)
                if chunk is None:
                    continue
                if "error" in chunk:
                    error = chunk["error"]["message"]
                    break
                now = time.perf_counter()
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
                if chunk.get("fastkv"):
                    ext = chunk["fastkv"]
                if has_text(chunk):
                    if first is None:
                        first = now
                    else:
                        gaps.append(now - last)
                    last = now
    except Exception as e:  # a failed request is a result, not a crash of the benchmark
        error = f"{type(e).__name__}: {e}"
    if error:
        return {"error": error}
    end = time.perf_counter()
    return {"ttft": first - t0 if first else None, "gaps": gaps, "e2e": end - t0, "tokens": tokens, "ext": ext}


async def closed_loop(client, model, config, concurrency):
    queue = list(range(max(args.requests, concurrency)))
    results = []

    async def worker():
        while queue:
            queue.pop()
            results.append(await one(client, model, config))
    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, time.perf_counter() - t


async def open_loop(client, model, config, rate):
    rng = random.Random(1)
    tasks = []
    t = time.perf_counter()
    next_at = t
    for _ in range(args.requests):
        next_at += rng.expovariate(rate)
        await asyncio.sleep(max(0, next_at - time.perf_counter()))
        tasks.append(asyncio.create_task(one(client, model, config, sent_at=time.perf_counter())))
    results = await asyncio.gather(*tasks)
    return list(results), time.perf_counter() - t


def summarize(kind, level, config, results, wall):
    ok = [r for r in results if "error" not in r]
    ttft = [1000 * r["ttft"] for r in ok if r["ttft"] is not None]
    itl = [1000 * g for r in ok for g in r["gaps"]]
    e2e = [1000 * r["e2e"] for r in ok]
    tokens = sum(r["tokens"] for r in ok)
    payload = [r["ext"]["payload_bytes"] for r in ok if r.get("ext")]
    full = [r["ext"]["full_kv_wire_bytes"] for r in ok if r.get("ext")]
    errors = sorted({r["error"] for r in results if "error" in r})
    return {"mode": kind, "level": level, "config": config, "requests": len(results), "ok": len(ok),
            "errors": len(results) - len(ok), "error_examples": errors[:3],
            "ttft_p50_ms": pct(ttft, 50), "ttft_p90_ms": pct(ttft, 90), "ttft_p99_ms": pct(ttft, 99),
            "itl_p50_ms": pct(itl, 50), "itl_p90_ms": pct(itl, 90), "itl_p99_ms": pct(itl, 99),
            "e2e_p50_ms": pct(e2e, 50), "e2e_p99_ms": pct(e2e, 99),
            "req_per_s": len(ok) / wall, "tok_per_s": tokens / wall, "wall_s": wall,
            "kv_payload_bytes_mean": statistics.mean(payload) if payload else None,
            "kv_full_bytes_mean": statistics.mean(full) if full else None}


def raw_socket_ttft(model):
    """TTFT of one streamed request sent over a plain socket (no HTTP client library), so the figure
    is the gateway's path and not the Python client's: request written → first chunk with text read."""
    u = urllib.parse.urlparse(args.url)
    body = json.dumps({"model": model, "prompt": PROMPT, "max_tokens": args.max_tokens, "temperature": 0, "stream": True,
                       "ignore_eos": True, "kv_compression": compression("full")}).encode()
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: {u.hostname}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((u.hostname, u.port or 80), timeout=args.timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        s.sendall(head + body)
        buf, first = b"", None
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            if first is None:
                # Only complete lines: a chunk split across recv() calls is parsed when its end arrives.
                for line in buf.split(b"\n")[:-1]:
                    if has_text(sse_chunk(line)):
                        first = time.perf_counter()
                        break
    if first is None:
        raise RuntimeError(f"no text chunk in the raw-socket response: {buf[:300]!r}")
    return 1000 * (first - t0)


async def compare_submit(client, model):
    """TTFT of the same prompt (full KV) over HTTP and through `fastkv submit`, alternating, sequential."""
    http_ttft, submit_ttft, gateway_ttft, coord_http, coord_submit, raw_ttft = [], [], [], [], [], []
    for _ in range(args.compare_runs):
        raw_ttft.append(await asyncio.to_thread(raw_socket_ttft, model))
        r = await one(client, model, "full")
        if "error" in r:
            raise RuntimeError(r["error"])
        http_ttft.append(1000 * r["ttft"])
        gateway_ttft.append(r["ext"]["ttft_ms"])
        coord_http.append(r["ext"]["coordinator_ttft_ms"])
        p = await asyncio.create_subprocess_exec(
            args.fastkv, "submit", "--coordinator", args.coordinator, "--prompt", PROMPT, "--max-tokens", str(args.max_tokens),
            "--ignore-eos", "--method", "full", "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await p.communicate()
        if p.returncode != 0:
            raise RuntimeError(err.decode())
        j = json.loads(out.decode().strip().splitlines()[-1])
        submit_ttft.append(j["ttft_ms"])
        coord_submit.append(j["coordinator_ttft_ms"])
    return {"runs": args.compare_runs, "http_client_ttft_p50_ms": pct(http_ttft, 50), "submit_client_ttft_p50_ms": pct(submit_ttft, 50),
            "http_minus_submit_p50_ms": pct(http_ttft, 50) - pct(submit_ttft, 50),
            "raw_socket_ttft_p50_ms": pct(raw_ttft, 50), "raw_socket_minus_submit_p50_ms": pct(raw_ttft, 50) - pct(submit_ttft, 50),
            "gateway_ttft_p50_ms": pct(gateway_ttft, 50),
            "coordinator_ttft_p50_ms_http": pct(coord_http, 50), "coordinator_ttft_p50_ms_submit": pct(coord_submit, 50),
            "http_overhead_over_coordinator_p50_ms": pct([h - c for h, c in zip(http_ttft, coord_http)], 50),
            "submit_overhead_over_coordinator_p50_ms": pct([s - c for s, c in zip(submit_ttft, coord_submit)], 50)}


async def scrape_times(client, n=50):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = await client.get("/metrics")
        times.append(1000 * (time.perf_counter() - t))
        assert r.status_code == 200
    return {"scrapes": n, "p50_ms": pct(times, 50), "p99_ms": pct(times, 99), "max_ms": max(times)}


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except Exception:
        return platform.processor() or "unknown"


def charts(out, rows):
    if not shutil.which("gnuplot"):
        print("bench-http: gnuplot is not installed (scripts/setup.sh installs gnuplot-nox): no charts", file=sys.stderr)
        return []
    made = []
    for mode, xlabel in (("closed", "concurrent streams"), ("open", "request rate (req/s)")):
        sel = [r for r in rows if r["mode"] == mode]
        if not sel:
            continue
        configs = sorted({r["config"] for r in sel})
        for metric, ylabel in (("ttft", "TTFT (ms)"), ("itl", "inter-token latency (ms)"), ("tok_per_s", "generated tokens/s")):
            dat = os.path.join(out, f"{mode}-{metric}.dat")
            with open(dat, "w") as f:
                for c in configs:
                    f.write(f"# {c}\n")
                    for r in sorted((r for r in sel if r["config"] == c), key=lambda r: r["level"]):
                        if metric == "tok_per_s":
                            f.write(f"{r['level']} {r['tok_per_s']}\n")
                        else:
                            f.write(f"{r['level']} {r[metric + '_p50_ms'] or 0} {r[metric + '_p99_ms'] or 0}\n")
                    f.write("\n\n")
            png = os.path.join(out, f"{mode}-{metric}.png")
            plots = []
            for i, c in enumerate(configs):
                if metric == "tok_per_s":
                    plots.append(f"'{dat}' index {i} using 1:2 with linespoints title '{c}'")
                else:
                    plots.append(f"'{dat}' index {i} using 1:2 with linespoints title '{c} p50'")
                    plots.append(f"'{dat}' index {i} using 1:3 with linespoints dashtype 2 title '{c} p99'")
            script = "\n".join([
                "set terminal pngcairo size 800,500", f"set output '{png}'", "set termoption noenhanced",
                f"set xlabel '{xlabel}'", f"set ylabel '{ylabel}'", "set grid", "set key top left",
                f"set title 'fastkv over HTTP: {ylabel} vs {xlabel}'", "plot " + ", ".join(plots)])
            subprocess.run(["gnuplot"], input=script, text=True, check=True)
            made.append(os.path.basename(png))
    return made


async def main():
    os.makedirs(args.out, exist_ok=True)
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) as client:
        model = (await client.get("/v1/models")).json()["data"][0]["id"]
        await one(client, model, "full")  # warm-up
        rows = []
        for config in args.configs.split(","):
            for c in [int(x) for x in args.concurrency.split(",") if x]:
                results, wall = await closed_loop(client, model, config, c)
                rows.append(summarize("closed", c, config, results, wall))
                print(json.dumps(rows[-1]), flush=True)
            for rate in [float(x) for x in args.rates.split(",") if x]:
                results, wall = await open_loop(client, model, config, rate)
                rows.append(summarize("open", rate, config, results, wall))
                print(json.dumps(rows[-1]), flush=True)
        idle_scrape = await scrape_times(client)
        compare = await compare_submit(client, model) if args.coordinator else None
    made = charts(args.out, rows)
    meta = {"url": args.url, "model": model, "prompt_tokens_approx": args.prompt_tokens, "max_tokens": args.max_tokens,
            "requests_per_level": args.requests, "cpu": cpu_model(), "cores": os.cpu_count(), "note": args.note,
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "metrics_scrape": idle_scrape, "http_vs_submit": compare}, f, indent=2)
    keys = [k for k in rows[0] if k != "error_examples"] if rows else []
    with open(os.path.join(args.out, "results.csv"), "w") as f:
        f.write(",".join(keys) + "\n")
        for r in rows:
            f.write(",".join("" if r[k] is None else (f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])) for k in keys) + "\n")
    fmt = lambda v: "–" if v is None else f"{v:.1f}"
    lines = [f"# HTTP load benchmark ({meta['date_utc']} UTC)", "",
             f"{meta['cpu']}, {meta['cores']} cores. {args.note}".strip(), "",
             f"Prompt ≈{args.prompt_tokens} tokens, {args.max_tokens} generated tokens per request (ignore_eos), "
             f"{args.requests} requests per level (at least one per stream), streaming over HTTP to {args.url}.", "",
             "| mode | level | config | ok/requests | TTFT p50 / p90 / p99 ms | ITL p50 / p90 / p99 ms | e2e p50 ms | req/s | tok/s | KV payload / full bytes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        kv = f"{r['kv_payload_bytes_mean']:,.0f} / {r['kv_full_bytes_mean']:,.0f}" if r["kv_payload_bytes_mean"] else "–"
        lines.append(f"| {r['mode']} | {r['level']} | {r['config']} | {r['ok']}/{r['requests']} | "
                     f"{fmt(r['ttft_p50_ms'])} / {fmt(r['ttft_p90_ms'])} / {fmt(r['ttft_p99_ms'])} | "
                     f"{fmt(r['itl_p50_ms'])} / {fmt(r['itl_p90_ms'])} / {fmt(r['itl_p99_ms'])} | {fmt(r['e2e_p50_ms'])} | "
                     f"{r['req_per_s']:.2f} | {r['tok_per_s']:.1f} | {kv} |")
    lines += ["", f"/metrics scrape (idle): p50 {idle_scrape['p50_ms']:.2f} ms, p99 {idle_scrape['p99_ms']:.2f} ms, max {idle_scrape['max_ms']:.2f} ms."]
    if compare:
        lines += ["", f"TTFT, same prompt, full KV, {compare['runs']} sequential runs each: HTTP (client clock) p50 "
                      f"{compare['http_client_ttft_p50_ms']:.2f} ms vs `fastkv submit` p50 {compare['submit_client_ttft_p50_ms']:.2f} ms "
                      f"(difference {compare['http_minus_submit_p50_ms']:+.2f} ms). Over the coordinator's own TTFT: HTTP adds "
                      f"{compare['http_overhead_over_coordinator_p50_ms']:.2f} ms p50, submit {compare['submit_overhead_over_coordinator_p50_ms']:.2f} ms. "
                      f"Over a plain socket (no HTTP client library, the gateway's own path): p50 {compare['raw_socket_ttft_p50_ms']:.2f} ms, "
                      f"{compare['raw_socket_minus_submit_p50_ms']:+.2f} ms against `submit`."]
    lines += [""] + [f"![{m}]({m})" for m in made]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


asyncio.run(main())
