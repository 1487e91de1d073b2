"""PyTorch reference timings for bench/pipeline.bench.ts (teacher pass and online-teacher KD).

Imports the independent oracle in ../shared/tools/oracle (nothing is copied from it) and does
what its `kd_reference.py` does:
  - teacher forward: the DistilBERT-base-shaped classifier of `load_teacher("distilbert-shape")`
    (bert.DistilBertForSequenceClassification + bert.hf_init_, eval, torch.inference_mode),
    batches from common.batches(..., bucket=False): dynamic padding in shuffled order, as
    `kd_reference.py run` feeds its online teacher; or length-sorted, as its
    --precomputed-teacher cache pass does;
  - online KD steps: the loop of `kd_reference.py run --teacher distilbert-shape` (teacher
    forward every step, BERT-Tiny student forward, KD loss, AdamW, linear schedule), step by
    step so that each one can be timed.
Reads one JSON command per line on stdin and answers one JSON line on stdout:
  {"cmd": "load_teacher", "data": TSV}                       -> {"sentences", "real_tokens", ...}
  {"cmd": "teacher", "order": "online"|"sorted", "batch": B[, "limit": K]}
                                                              -> {"seconds", "sentences_per_s", ...}
  {"cmd": "kd_setup", "data": TSV, "student": DIR, "batch": 16, "epochs": 3}
                                                              -> {"steps_per_epoch", "full_steps", "tokenize_s", ...}
  {"cmd": "kd_steps", "steps": N}                            -> {"step_s": [...], "teacher_s": [...]}
Threads: BENCH_THREADS (default 2), as the oracle's scripts use.
"""
import json
import math
import os
import sys
import time

ORACLE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools", "oracle"))
sys.path.insert(0, ORACLE)

import torch  # noqa: E402
import bert  # noqa: E402
from common import VOCAB, batches, env_summary, read_sst2  # noqa: E402
from kd_reference import encode_all, kd_loss, load_teacher, make_optimizer, teacher_forward  # noqa: E402
from wordpiece import BertTokenizer  # noqa: E402

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
MAX_LEN = 64
state = {}


def tokenizer():
    if "tok" not in state:
        state["tok"] = BertTokenizer(VOCAB)
    return state["tok"]


def cmd_load_teacher(c):
    t0 = time.perf_counter()
    texts, labels = read_sst2(c["data"])
    enc = encode_all(tokenizer(), texts, MAX_LEN)
    t1 = time.perf_counter()
    if "teacher" not in state:
        state["teacher"], _ = load_teacher("distilbert-shape")  # torch.manual_seed(0) + hf_init_, eval()
    state["sub"] = (enc, labels)
    return {"sentences": len(enc), "real_tokens": sum(len(e) for e in enc), "tokenize_s": t1 - t0,
            "build_s": time.perf_counter() - t1, "env": env_summary()}


def cmd_teacher(c):
    enc, labels = state["sub"]
    teacher = state["teacher"]
    bs = int(c.get("batch", 32))
    if c.get("order", "online") == "sorted":
        # kd_reference.py run --precomputed-teacher: length-sorted, consecutive batches
        order = sorted(range(len(enc)), key=lambda j: len(enc[j]))
        rows, labs = [enc[j] for j in order], [labels[j] for j in order]
        it = batches(rows, labs, bs, shuffle=False)
    else:
        # kd_reference.py run (online teacher): shuffled rows, dynamic padding, no bucketing
        it = batches(enc, labels, bs, shuffle=True, seed=int(c.get("seed", 0)), bucket=False)
    limit = int(c.get("limit", 0))  # >0: only the first `limit` batches (warm-up)
    padded = 0
    n = 0
    t0 = time.perf_counter()
    for k, b in enumerate(it):  # batch building is part of what the reference does per step
        if limit and k >= limit:
            break
        teacher_forward(teacher, b)
        padded += b["input_ids"].numel()
        n += b["input_ids"].shape[0]
    s = time.perf_counter() - t0
    real = sum(len(e) for e in enc) if not limit else padded
    return {"seconds": s, "sentences": n, "sentences_per_s": n / s, "padded_tokens": padded, "real_tokens": real,
            "padding_overhead": padded / real, "batch": bs, "order": c.get("order", "online")}


def cmd_kd_setup(c):
    # As kd_reference.py cmd_run with its defaults (lr 1e-4, AdamW wd 0.01 on every param,
    # no warm-up, linear decay to 0 over the full run, T 2, alpha 0.5, dropout off, seed 0).
    t0 = time.perf_counter()
    torch.manual_seed(0)
    texts, labels = read_sst2(c["data"])
    enc = encode_all(tokenizer(), texts, MAX_LEN)
    t1 = time.perf_counter()
    student, _ = bert.load_model(c["student"])
    student.eval()
    if "teacher" not in state:
        state["teacher"], _ = load_teacher("distilbert-shape")
    bs, epochs = int(c.get("batch", 16)), int(c.get("epochs", 3))
    spe = math.ceil(len(enc) / bs)
    total = spe * epochs
    opt = make_optimizer(student, 1e-4, (0.9, 0.999), 1e-8, 0.01, False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, (total - s) / max(1, total)))

    def batch_iter():
        for ep in range(epochs):
            for b in batches(enc, labels, bs, shuffle=True, seed=0 + ep):
                yield b

    state["kd"] = {"student": student, "opt": opt, "sched": sched, "it": batch_iter()}
    return {"sentences": len(enc), "steps_per_epoch": spe, "full_steps": total, "tokenize_s": t1 - t0,
            "setup_s": time.perf_counter() - t0, "env": env_summary()}


def cmd_kd_steps(c):
    kd = state["kd"]
    student, opt, sched, teacher = kd["student"], kd["opt"], kd["sched"], state["teacher"]
    step_s, teacher_s, lens = [], [], []
    for _ in range(int(c["steps"])):
        t0 = time.perf_counter()
        b = next(kd["it"])
        tt0 = time.perf_counter()
        tl = teacher_forward(teacher, b)
        teacher_s.append(time.perf_counter() - tt0)
        s_logits = student(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        loss, _, _ = kd_loss(s_logits, tl, b["labels"], 2.0, 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss.item()
        step_s.append(time.perf_counter() - t0)
        lens.append(int(b["input_ids"].shape[1]))
    return {"step_s": step_s, "teacher_s": teacher_s, "padded_len": lens}


CMDS = {"load_teacher": cmd_load_teacher, "teacher": cmd_teacher, "kd_setup": cmd_kd_setup, "kd_steps": cmd_kd_steps}

for line in sys.stdin:
    cmd = json.loads(line)
    try:
        res = CMDS[cmd["cmd"]](cmd)
    except Exception as e:  # report, keep serving
        res = {"error": repr(e)}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
