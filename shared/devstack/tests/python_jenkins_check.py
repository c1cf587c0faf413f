"""Drives the stand-in Jenkins with python-jenkins, a client written against the real Jenkins.

Usage: python python_jenkins_check.py BASE_URL USER TOKEN JOB

JOB must be configured on the fake to wait in the queue a moment, then hang. Prints one
`ok: ...` line per call that behaved as Jenkins would, and exits non-zero at the first that did
not. Run by tests/python_jenkins.rs.
"""

import sys
import time

import jenkins

STEP_ID = "chg_py/jenkins check"


def check(what, condition, detail=""):
    if not condition:
        print(f"FAILED: {what} {detail}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def poll(what, fetch, done, limit_s=10.0):
    start = time.monotonic()
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() - start > limit_s:
            check(what, False, f"(still {value!r} after {limit_s} s)")
        time.sleep(0.05)


def main():
    base, user, token, job = sys.argv[1:5]
    server = jenkins.Jenkins(base, username=user, password=token, timeout=10)

    # Like a secured Jenkins, the fake answers nothing anonymously, and get_version sends its
    # request without resolving the credentials first: any authenticated call before it does.
    me = server.get_whoami()
    check("get_whoami", me.get("id") == user, me)
    version = server.get_version()
    check("get_version", version == "2.462.3", version)

    info = server.get_info()
    names = [j["name"] for j in info.get("jobs", [])]
    check("get_info lists the job", job in names, names)
    check("get_jobs lists the job", job in [j["fullname"] for j in server.get_jobs()])

    job_info = server.get_job_info(job)
    check("get_job_info", job_info.get("name") == job and job_info.get("builds") == [], job_info)

    params = {"TENANT_ID": "ten_py", "PORTAL_STEP_ID": STEP_ID}
    queue_id = server.build_job(job, params)
    check("build_job answers a queue item", isinstance(queue_id, int) and queue_id > 0, queue_id)

    item = server.get_queue_item(queue_id)
    waiting = [i for i in server.get_queue_info() if i.get("id") == queue_id]
    check("get_queue_item while queued", "why" in item and not item.get("executable"), item)
    check("get_queue_info lists it", len(waiting) == 1, waiting)
    queued_params = {p["name"]: p["value"] for a in waiting[0].get("actions", []) for p in a.get("parameters", [])}
    check("get_queue_info shows its parameters", queued_params == params, waiting)

    item = poll("the build starts", lambda: server.get_queue_item(queue_id), lambda i: i.get("executable"))
    number = item["executable"]["number"]
    check("get_queue_item once started", number == 1, item)

    build = server.get_build_info(job, number)
    build_params = {p["name"]: p["value"] for a in build["actions"] for p in a.get("parameters", [])}
    check("get_build_info while it runs", build["building"] is True and build["result"] is None, build)
    check("get_build_info shows its parameters", build_params == params, build_params)

    console = server.get_build_console_output(job, number)
    check("get_build_console_output", "TENANT_ID=ten_py" in console and "Finished:" not in console, console)

    server.stop_build(job, number)
    build = poll("the build stops", lambda: server.get_build_info(job, number), lambda b: not b["building"])
    check("stop_build aborts it", build["result"] == "ABORTED", build)
    console = server.get_build_console_output(job, number)
    check("the console says so", console.rstrip().endswith("Finished: ABORTED"), console)

    print("python-jenkins: all checks passed", flush=True)


if __name__ == "__main__":
    main()
