"""Test oracle for the model graphs: runs the independent PyTorch implementation in
../shared/tools/oracle/bert.py (HF BertForSequenceClassification /
DistilBertForSequenceClassification) in eval mode and prints logits as JSON.

usage: /usr/bin/python3 oracle_forward.py request.json
request: {"jobs": [{"model_dir": D, "input_ids": [[...]], "attention_mask": [[...]],
                    "token_type_ids": [[...]] (optional), "dtype": "float32"|"float64"}]}
stdout:  {"logits": [ [[...], ...] per job ]}
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "tools", "oracle"))
sys.path.insert(0, ORACLE)
import bert  # noqa: E402


def main():
    torch.set_num_threads(2)
    with open(sys.argv[1]) as f:
        req = json.load(f)
    out = []
    for job in req["jobs"]:
        model, _ = bert.load_model(job["model_dir"])
        model.eval()
        if job.get("dtype") == "float64":
            model.double()
        ids = torch.tensor(job["input_ids"], dtype=torch.long)
        mask = torch.tensor(job["attention_mask"], dtype=torch.long)
        tt = job.get("token_type_ids")
        with torch.no_grad():
            if tt is not None:
                logits = model(ids, mask, torch.tensor(tt, dtype=torch.long))
            else:
                logits = model(ids, mask)
        out.append(logits.double().tolist())
    json.dump({"logits": out}, sys.stdout)


if __name__ == "__main__":
    main()
