#!/usr/bin/env python3
"""Runs the oracle's `kd_reference.py` unchanged and also prints every step's loss in full
precision (its own log prints 4 decimals).

    /usr/bin/python3 oracle-run-trace.py ORACLE_DIR run --max-steps 20 ...

kd_reference.cmd_run calls the module-level kd_loss once per optimizer step; wrapping it
records loss.item() - the same number the oracle logs as "step N/M loss X" - as a line
"full-precision-loss <repr>".
"""
import sys

sys.path.insert(0, sys.argv[1])
import kd_reference  # noqa: E402

_kd_loss = kd_reference.kd_loss


def traced_kd_loss(*args, **kwargs):
    out = _kd_loss(*args, **kwargs)
    print("full-precision-loss %r" % out[0].item(), flush=True)
    return out


kd_reference.kd_loss = traced_kd_loss
sys.argv = [kd_reference.__file__] + sys.argv[2:]
kd_reference.main()
