"""SIGKILLs dsv3-run at random moments while it checkpoints every step, then
checks that the checkpoint directory still resumes: `latest` names a
complete checkpoint, whatever the kill interrupted.

usage: kill_during_save.py DSV3_RUN EXECUTABLE DATA CHECKPOINT_DIR"""
import random
import shutil
import subprocess
import sys
import time

run, exe, data, root = sys.argv[1:5]
shutil.rmtree(root, ignore_errors=True)
rng = random.Random(1)
resumed = []
for attempt in range(6):
    cmd = [run, exe, "--steps", "100000", "--data", data, "--save", root,
           "--save-every", "1"]
    if attempt:
        cmd += ["--resume", root]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    # Wait for a first save of this process, then kill at a random moment.
    for line in p.stdout:
        if line.startswith("saved"):
            break
    time.sleep(rng.uniform(0.0, 0.3))
    p.kill()
    p.wait()
    check = subprocess.run([run, exe, "--steps", "0", "--resume", root],
                           capture_output=True, text=True)
    if check.returncode != 0:
        print("not loadable after a kill:", check.stderr)
        sys.exit(1)
    resumed.append(int(check.stdout.split(" at step ")[1].split()[0]))
if resumed != sorted(resumed) or resumed[0] < 1:
    print("checkpoints went backwards:", resumed)
    sys.exit(1)
print(f"{len(resumed)} kills, every checkpoint loadable")
