#!/usr/bin/env python3
"""Request load for the fault run (stdlib only).

  load.py signup --base URL --tenants N            -> JSON of the tenants on stdout
  load.py run --base URL --tenants-file F --seconds S --threads T --out EVENTS
  load.py report --events EVENTS --marks MARKS --db DB.json

`run`: each thread loops creating a project in one of the tenants and
archiving every fifth project it created, until S seconds have passed.
Every request is one event: [t, kind, status, tenant, project id]. `status` is
the HTTP status, or 0 for a connection error or timeout. The events are
written to EVENTS at the end.

`report`: joins the events with what the database holds (DB.json, written
by run.sh from psql) and the fault marks (MARKS: lines `t name`), and prints
the counts and the time until the app served again after each recovery.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def request(conn, method, path, headers, body=None):
    data = None if body is None else json.dumps(body)
    hdrs = dict(headers)
    if data is not None:
        hdrs["content-type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    text = resp.read()
    try:
        return resp.status, json.loads(text) if text else None
    except ValueError:
        return resp.status, None


def connect(base):
    u = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


def signup(args):
    conn = connect(args.base)
    tenants = []
    for i in range(args.tenants):
        slug = f"fault-{i}-{int(time.time())}"
        body = {"tenant_slug": slug, "tenant_name": slug, "email": f"owner@{slug}.test",
                "password": "correct horse battery"}
        status, answer = request(conn, "POST", "/api/v1/auth/signup", {}, body)
        if status != 201:
            sys.exit(f"signup: {status} {answer}")
        tenants.append({"id": answer["tenant"]["id"], "token": answer["access_token"]})
    json.dump(tenants, sys.stdout)


def worker(base, tenants, index, until, events, lock):
    conn = connect(base)
    mine = []
    n = 0
    while time.time() < until:
        tenant = tenants[(index + n) % len(tenants)]
        headers = {"authorization": f"Bearer {tenant['token']}", "x-tenant": tenant["id"]}
        n += 1
        archive = len(mine) > 0 and n % 5 == 0
        if archive:
            t_id, pid = mine.pop()
            headers = {"authorization": f"Bearer {next(t for t in tenants if t['id'] == t_id)['token']}",
                       "x-tenant": t_id}
            path, body, kind = f"/api/v1/projects/{pid}/archive", None, "archive"
        else:
            path, body, kind = "/api/v1/projects", {"name": f"load-{index}-{n}"}, "create"
        t = time.time()
        try:
            status, answer = request(conn, "POST", path, headers, body)
        except (OSError, http.client.HTTPException):
            status, answer = 0, None
            conn.close()
            conn = connect(base)
        ident = None
        if kind == "create" and 200 <= status < 300:
            ident = answer["id"]
            mine.append((tenant["id"], ident))
        elif kind == "archive":
            ident = pid
        with lock:
            events.append([t, kind, status, headers["x-tenant"], ident])


def run(args):
    tenants = json.load(open(args.tenants_file))
    events, lock = [], threading.Lock()
    until = time.time() + args.seconds
    threads = [threading.Thread(target=worker, args=(args.base, tenants, i, until, events, lock))
               for i in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with open(args.out, "w") as f:
        json.dump(events, f)


def report(args):
    events = json.load(open(args.events))
    db = json.load(open(args.db))
    marks = [line.split(None, 1) for line in open(args.marks) if line.strip()]
    marks = [(float(t), name.strip()) for t, name in marks]
    ok = lambda e: 200 <= e[2] < 300
    created = {(e[3], str(e[4])) for e in events if e[1] == "create" and ok(e)}
    archived = {(e[3], str(e[4])) for e in events if e[1] == "archive" and ok(e)}
    projects = {tuple(p) for p in db["projects"]}
    create_audit = {tuple(p) for p in db["create_audit"]}
    archive_audit = {tuple(p) for p in db["archive_audit"]}
    summaries = {}
    for t, p in db["summaries"]:
        summaries[(t, p)] = summaries.get((t, p), 0) + 1
    failed = [e for e in events if not ok(e)]
    print(f"requests: {len(events)} ({len(events) - len(failed)} 2xx, {len(failed)} not: "
          + ", ".join(f"{s or 'no answer'} x{sum(1 for e in failed if e[2] == s)}"
                      for s in sorted({e[2] for e in failed})) + ")")
    print(f"2xx creates: {len(created)}; missing from projects: {len(created - projects)} (lost committed writes)")
    print(f"  without their project.create audit row: {len(created - create_audit)}")
    print(f"  committed without a 2xx (cut off mid-flight, or answered an error after COMMIT): "
          f"{len(projects - created)}")
    print(f"2xx archives: {len(archived)}; without their project.archive audit row: {len(archived - archive_audit)}")
    print(f"  without their project.archive_summary (lost jobs): {sum(1 for a in archived if a not in summaries)}")
    print(f"  with more than one summary (a job run twice: at least once): "
          f"{sum(1 for a in archived if summaries.get(a, 0) > 1)}")
    print(f"jobs: {db['jobs']}")
    events.sort()
    for t, name in marks:
        if not name.endswith(" back"):
            continue
        fault = name[:-len(" back")]
        start = next((m for m, n in marks if n == fault + " down"), t)
        during = [e for e in events if start <= e[0] < t]
        after = [e for e in events if e[0] >= t]
        first_ok = next((e[0] for e in after if ok(e)), None)
        # The app serves again when every request after that point succeeds.
        last_bad = max((e[0] for e in after if not ok(e) and e[0] < t + 60), default=None)
        print(f"{fault}: down {t - start:.1f} s; requests in that window {len(during)} "
              f"({sum(1 for e in during if not ok(e))} failed); first 2xx {first_ok - t:.2f} s after recovery"
              if first_ok is not None else f"{fault}: no 2xx after recovery")
        if last_bad is None:
            print("  no failed request after recovery")
        else:
            print(f"  last failed request {last_bad - t:.2f} s after recovery")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("signup")
    s.add_argument("--base", required=True)
    s.add_argument("--tenants", type=int, default=4)
    r = sub.add_parser("run")
    r.add_argument("--base", required=True)
    r.add_argument("--tenants-file", required=True)
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--threads", type=int, default=8)
    r.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--events", required=True)
    p.add_argument("--marks", required=True)
    p.add_argument("--db", required=True)
    a = ap.parse_args()
    {"signup": signup, "run": run, "report": report}[a.cmd](a)


if __name__ == "__main__":
    main()
