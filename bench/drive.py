"""Runs one load test of the bench harness through `--loadtest-protocol`, as cargo loadtest
drives it, and writes the test's result (JSON) to $EVENT_OUT.

    URL=http://127.0.0.1:18080 HARNESS=target/release/deps/peers-... EVENT_OUT=out.json \\
        python3 bench/drive.py TEST [OPTION=VALUE...] [-- PREFIX...]

Each OPTION=VALUE is a load test option (iterations=2000, client=native, users=50, ...), set
above the test's attribute; the target is $URL. PREFIX (valgrind, strace, /usr/bin/time, taskset)
is put before the harness. Stdin stays open until the harness says `done` (its end would stop the
run). Used by bench/counters.sh and bench/connected.sh.
"""
import json
import os
import subprocess
import sys

args = sys.argv[1:]
sep = args.index("--") if "--" in args else len(args)
test, *options = args[:sep]
prefix = args[sep + 1:]
values = {"target": os.environ["URL"], "duration": "10m"}
values.update(o.split("=", 1) for o in options)
request = {
    "protocol": 1,
    "tests": [{"name": test, "overrides": [{"source": "bench/drive.py",
                                            "values": [[k, [v]] for k, v in values.items()]}]}],
    "target": os.environ["URL"],
}
p = subprocess.Popen(prefix + [os.environ["HARNESS"], "--loadtest-protocol"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
p.stdin.write(json.dumps(request) + "\n")
p.stdin.flush()
result = None
for line in p.stdout:
    if not line.startswith("@loadtest-event "):
        continue
    event = json.loads(line[len("@loadtest-event "):])
    if event["event"] == "finished":
        result = event["result"]
    elif event["event"] in ("test_error", "setup_failed"):
        sys.exit(f"the harness refused the run: {event}")
    elif event["event"] == "done":
        break
p.stdin.close()
p.wait()
if result is None:
    sys.exit("the harness sent no result")
with open(os.environ["EVENT_OUT"], "w") as f:
    json.dump(result, f)
