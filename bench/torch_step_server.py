"""Times the PyTorch reference's distillation training step, for bench/engine.bench.ts.

Uses the independent oracle in ../shared/tools/oracle (models, KD loss, AdamW), so both
sides run the same step: forward, KD loss (T=2, alpha=0.5), backward, clip_grad_norm_(1.0),
torch.optim.AdamW with the Hugging Face Trainer's decay grouping. Reads one JSON command
per line on stdin and answers one JSON line:
  {"cmd": "load", "student": DIR, "batches": FILE}  -> {"ok": true, "env": ...}
  {"cmd": "time", "case": NAME, "steps": N}         -> {"ms": [per-step milliseconds]}
"""
import json
import os
import sys
import time

ORACLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools", "oracle")
sys.path.insert(0, os.path.abspath(ORACLE))

import torch  # noqa: E402
import bert  # noqa: E402
from common import env_summary  # noqa: E402
from kd_reference import kd_loss, make_optimizer  # noqa: E402

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
state = {}


def load(cmd):
    model, _ = bert.load_model(cmd["student"])
    model.eval()  # dropout off, as in the engine's benchmark
    state["model"] = model
    state["opt"] = make_optimizer(model, 1e-4, (0.9, 0.999), 1e-8, 0.01, no_decay_bias_ln=True)
    with open(cmd["batches"]) as f:
        cases = json.load(f)
    state["cases"] = {}
    for name, batches in cases.items():
        state["cases"][name] = [
            {k: torch.tensor(b[k], dtype=torch.long) for k in ("input_ids", "attention_mask", "labels")}
            | {"teacher_logits": torch.tensor(b["teacher_logits"], dtype=torch.float32)}
            for b in batches
        ]
    return {"ok": True, "env": env_summary(), "torch": torch.__version__, "threads": torch.get_num_threads()}


def step(b):
    model, opt = state["model"], state["opt"]
    logits = model(b["input_ids"], b["attention_mask"], torch.zeros_like(b["input_ids"]))
    loss = kd_loss(logits, b["teacher_logits"], b["labels"], 2.0, 0.5)[0]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def time_case(cmd):
    batches = state["cases"][cmd["case"]]
    out = []
    for i in range(cmd["steps"]):
        b = batches[state.setdefault("cursor_" + cmd["case"], 0) % len(batches)]
        state["cursor_" + cmd["case"]] += 1
        t0 = time.perf_counter()
        step(b)
        out.append((time.perf_counter() - t0) * 1000)
    return {"ms": out}


for line in sys.stdin:
    cmd = json.loads(line)
    try:
        res = load(cmd) if cmd["cmd"] == "load" else time_case(cmd)
    except Exception as e:  # report, keep serving
        res = {"error": repr(e)}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
