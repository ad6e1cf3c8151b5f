"""Oracle for tests/memory_sgd_test.ts: the reference ECN exemplar memory (sequential update loop, as
in the authors' code, rewritten as a static autograd Function) and torch.optim.SGD."""
import json
import sys

import torch

from ecn_reference import ExemplarMemory

torch.set_num_threads(1)


def t(spec, dtype=torch.float32):
    return torch.tensor(spec["data"], dtype=dtype).reshape(spec["shape"])


def flat(x):
    return x.detach().reshape(-1).tolist()


def memory(case):
    em = t(case["memory"])
    out = []
    for step in case["steps"]:
        x = t(step["inputs"]).requires_grad_(True)
        idx = torch.tensor(step["indexes"], dtype=torch.int64)
        logits = ExemplarMemory.apply(x, idx, em, step["alpha"])
        logits.backward(t(step["gradOut"]))
        out.append({"logits": flat(logits), "grad": flat(x.grad), "memory": flat(em)})
    return out


def sgd(case):
    params = [t(p).requires_grad_(True) for p in case["params"]]
    groups = [{"params": [params[i] for i in g["indices"]], "lr": g["lr"]} for g in case["groups"]]
    opt = torch.optim.SGD(groups, lr=case["groups"][0]["lr"], momentum=case["momentum"],
                          weight_decay=case["weightDecay"], nesterov=case["nesterov"],
                          dampening=case.get("dampening", 0.0))
    for grads in case["grads"]:
        for p, g in zip(params, grads):
            p.grad = t(g)
        opt.step()
    return [flat(p) for p in params]


req = json.load(sys.stdin)
json.dump({"memory": [memory(c) for c in req["memory"]], "sgd": [sgd(c) for c in req["sgd"]]}, sys.stdout)
