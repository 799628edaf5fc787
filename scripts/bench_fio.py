"""fio's JSON output as the bench scripts read it (scripts/bench.sh,
bench-ab.sh, bench-profile.sh import it from the repository's root)."""
import json


def first_job(path):
    """The first job of a file `fio --output-format=json` wrote (fio may print
    text before the JSON). OSError or ValueError when it holds none."""
    text = open(path).read()
    return json.loads(text[text.index("{"):])["jobs"][0]


def direction(job):
    """'read' for a job that only read, else 'write'."""
    return "read" if job["read"]["io_bytes"] > 0 and job["write"]["io_bytes"] == 0 else "write"


def requests(job):
    """Requests fio counted (after the ramp): its direction's, plus flushes."""
    return job[direction(job)]["total_ios"] + job.get("sync", {}).get("total_ios", 0)


def cpu_us_per_request(ticks, clk_tck, job):
    """Server CPU microseconds per request, from clock ticks the server used."""
    return ticks * 1e6 / clk_tck / max(requests(job), 1)
