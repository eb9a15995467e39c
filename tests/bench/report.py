#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py RAW JSON - the table and the JSON file of scripts/bench.

RAW is the tab-separated file scripts/bench writes:
  M key value                                   run metadata
  C config kind options                         a configuration, in order
  R config workload run value unit cpu_us error one measurement
  D config when rss_kb hwm_kb fds               daemon figures
  S config run stats.json                       `rcufs stats --json` output
Prints one table (rows = configurations, columns = workloads in groups;
medians of the runs with the ratio to native's median) and the daemon
figures, and writes everything (raw runs included) to JSON.
Python standard library only.
"""
import json
import statistics
import sys


def fmt_rate(v):
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def fmt_secs(v):
    if v >= 100:
        return "%.0fs" % v
    if v >= 10:
        return "%.1fs" % v
    return "%.2fs" % v


def fmt_ratio(r):
    if r >= 100:
        return "%.0fx" % r
    if r >= 10:
        return "%.1fx" % r
    if r >= 0.1:
        return "%.2fx" % r
    return "%.3fx" % r


def flatten(obj, prefix=""):
    """(dotted key, value) for every scalar in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, prefix + str(k) + ".")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from flatten(v, prefix + str(i) + ".")
    else:
        yield prefix[:-1], obj


def hit_rates(doc):
    """{name: fraction} from `rcufs stats --json`: per operation of
    operations.by_op that has a cached path (hits / requests), and the
    negative lookups; otherwise whatever it prints: keys named like
    "*hit_rate*" / "*hit_ratio*", else hits / (hits + misses)."""
    rates = {}
    ops = doc.get("operations", {}) if isinstance(doc, dict) else {}
    for name, c in (ops.get("by_op") or {}).items():
        if isinstance(c, dict) and isinstance(c.get("hits"), (int, float)) \
                and c.get("requests"):
            rates[name.lower()] = c["hits"] / c["requests"]
    neg = ops.get("negative_lookups")
    if isinstance(neg, dict) and neg.get("requests") and \
            isinstance(neg.get("hits"), (int, float)):
        rates["negative"] = neg["hits"] / neg["requests"]
    if rates:
        return rates
    for key, v in flatten(doc):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        comps = key.lower().split(".")
        at = [i for i, c in enumerate(comps)
              if "hit_rate" in c or "hit_ratio" in c]
        if not at:
            continue
        i = at[-1]
        if i < len(comps) - 1:
            name = key.split(".")[-1]
        else:
            name = key.split(".")[i - 1] if i > 0 else "all"
        rates[name] = v / 100.0 if v > 1 else float(v)
    if rates:
        return rates

    def walk(obj, name):
        if isinstance(obj, dict):
            h, m = obj.get("hits"), obj.get("misses")
            if isinstance(h, (int, float)) and isinstance(m, (int, float)) \
                    and h + m > 0:
                rates[name or "all"] = h / (h + m)
            for k, v in obj.items():
                walk(v, str(k))
    walk(doc, "")
    return rates


def main():
    raw_path, json_path = sys.argv[1], sys.argv[2]
    meta, configs, kinds, opts = {}, [], {}, {}
    runs = {}        # (config, workload) -> list of (value, cpu, error)
    units = {}
    workloads = []
    daemon = {}      # config -> when -> [rss, hwm, fds] (last run)
    stats = {}       # config -> last stats document
    for line in open(raw_path):
        f = line.rstrip("\n").split("\t")
        if f[0] == "M":
            meta[f[1]] = f[2]
        elif f[0] == "C":
            configs.append(f[1])
            kinds[f[1]], opts[f[1]] = f[2], f[3]
        elif f[0] == "R":
            cfg, wl, _run, val, unit, cpu, err = f[1:8]
            if wl not in workloads:
                workloads.append(wl)
            units[wl] = unit
            runs.setdefault((cfg, wl), []).append(
                (float(val) if val and not err else None,
                 float(cpu) if cpu else None, err or None))
        elif f[0] == "D":
            daemon.setdefault(f[1], {})[f[2]] = [int(f[3] or 0),
                                                int(f[4] or 0), int(f[5] or 0)]
        elif f[0] == "S":
            try:
                with open(f[3]) as fh:
                    stats[f[1]] = json.load(fh)
            except (OSError, ValueError):
                pass

    def median(cfg, wl):
        vals = [v for v, _, _ in runs.get((cfg, wl), []) if v is not None]
        return statistics.median(vals) if vals else None

    def cpu_median(cfg, wl):
        vals = [c for _, c, _ in runs.get((cfg, wl), []) if c is not None]
        return statistics.median(vals) if vals else None

    def error(cfg, wl):
        errs = [e for _, _, e in runs.get((cfg, wl), []) if e]
        return errs[0] if errs else None

    out = {"meta": meta, "configs": [], "workloads": workloads}
    cells = {}
    for cfg in configs:
        row = {"name": cfg, "kind": kinds[cfg], "options": opts[cfg],
               "workloads": {},
               "daemon": {when: {"rss_kb": v[0], "hwm_kb": v[1], "fds": v[2]}
                          for when, v in daemon.get(cfg, {}).items()},
               "hit_rates": hit_rates(stats[cfg]) if cfg in stats else None,
               "stats": stats.get(cfg)}
        for wl in workloads:
            if (cfg, wl) not in runs:
                continue
            m, nat = median(cfg, wl), median("native", wl)
            ratio = None
            if m is not None and nat:
                ratio = m / nat
            row["workloads"][wl] = {
                "unit": units[wl], "median": m, "ratio_to_native": ratio,
                "daemon_cpu_us_per_op": cpu_median(cfg, wl),
                "error": error(cfg, wl),
                "runs": [v for v, _, _ in runs[(cfg, wl)]]}
            if m is None:
                text = error(cfg, wl) or "?"
                if not text.startswith(">"):   # ">Ns": over the walk cap
                    text = "err:" + text
                text = text[:16]
            elif units[wl] == "s":
                text = "%s %s" % (fmt_secs(m), fmt_ratio(ratio or 0))
            else:
                text = "%s %s" % (fmt_rate(m), fmt_ratio(ratio or 0))
            cells[(cfg, wl)] = text
        if row["daemon"]:
            for k in ("rss_kb", "hwm_kb", "fds"):
                row["daemon_%s_max" % k] = max(
                    v[k] for v in row["daemon"].values())
        out["configs"].append(row)

    print("rcufs metadata benchmark: %s files, %s symlinks, %s directories "
          "(%s); %s run(s), median; storms %s s each" % (
              meta.get("files"), meta.get("symlinks"), meta.get("directories"),
              meta.get("shape"), meta.get("runs"), meta.get("duration")))
    print("kernel %s, %s cpus, %s, rcufs %s (commit %s)" % (
        meta.get("kernel"), meta.get("cpus"), meta.get("date"),
        meta.get("rcufs"), meta.get("commit")))
    if meta.get("partial"):
        print("PARTIAL: the run was interrupted; medians of the runs done")
    print("storms: ops/s and ratio to native (higher is better); "
          "walks: seconds and ratio to native (lower is better)")

    # Column groups: one per storm mode (its thread counts), then walks.
    groups, seen = [], set()
    for wl in workloads:
        key = wl.split("-t")[0] if units[wl] == "ops/s" else "walks"
        if key not in seen:
            seen.add(key)
            groups.append(key)
    width = max([len(c) for c in configs] + [8])
    for g in groups:
        cols = [wl for wl in workloads
                if (wl.split("-t")[0] if units[wl] == "ops/s" else "walks") == g]
        hdr = [w if g == "walks" else "%s %st" % (g, w.split("-t")[1])
               for w in cols]
        cw = [max(len(h), max((len(cells.get((c, w), "")) for c in configs),
                              default=0)) for h, w in zip(hdr, cols)]
        print()
        print("%-*s  %s" % (width, "", "  ".join(
            h.rjust(n) for h, n in zip(hdr, cw))))
        for cfg in configs:
            if not any((cfg, w) in cells for w in cols):
                continue
            print("%-*s  %s" % (width, cfg, "  ".join(
                cells.get((cfg, w), "-").rjust(n) for w, n in zip(cols, cw))))

    # Daemon figures.
    lstat1 = next((w for w in workloads if w.startswith("lstat-t")), None)
    neg1 = next((w for w in workloads if w.startswith("negative-t")), None)
    print()
    print("daemon: CPU us per op (median; %s, %s, walk warm per entry), "
          "VmRSS / VmHWM (MB) and open fds at most after the workloads"
          % (lstat1, neg1))
    for row in out["configs"]:
        cfg = row["name"]
        if not row["daemon"]:
            continue
        parts = []
        for wl in (lstat1, neg1, "walk-warm"):
            c = cpu_median(cfg, wl) if wl else None
            parts.append("%7s" % ("%.1f" % c if c is not None else "-"))
        line = "%-*s  cpu/op %s  rss %6.1f / %6.1f MB  fds %d" % (
            width, cfg, " ".join(parts), row["daemon_rss_kb_max"] / 1024.0,
            row["daemon_hwm_kb_max"] / 1024.0, row["daemon_fds_max"])
        if row["hit_rates"]:
            line += "  hits " + " ".join(
                "%s=%.0f%%" % (k, 100 * v) for k, v in
                sorted(row["hit_rates"].items()))
        print(line)

    with open(json_path, "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
