"""Oracle for tests/tensor_ops_test.ts: evaluates each case's PyTorch expression on the same inputs
and returns the output(s) and the gradients of sum(out * grad_out) for inputs that require grad."""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
DT = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}


def to_tensor(spec):
    t = torch.tensor(spec["data"], dtype=DT[spec["dtype"]]).reshape(spec["shape"])
    if spec.get("requiresGrad"):
        t.requires_grad_(True)
    return t


def flat(t):
    t = t.detach()
    if t.dtype == torch.bool:
        t = t.to(torch.int64)
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def main():
    cases = json.load(sys.stdin)
    results = []
    for case in cases:
        env = {name: to_tensor(spec) for name, spec in case["inputs"].items()}
        env.update({"torch": torch, "F": F})
        if "seed" in case:
            torch.manual_seed(case["seed"])
        out = eval(case["expr"], env)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        grads = {}
        if case.get("gradOut") is not None:
            g = to_tensor(case["gradOut"])
            outs[0].backward(g)
            for name, spec in case["inputs"].items():
                if spec.get("requiresGrad"):
                    grads[name] = flat(env[name].grad)
        extra = {}
        for name in case.get("after", []):
            extra[name] = flat(env[name])
        results.append({"outs": [flat(o) for o in outs], "grads": grads, "after": extra})
    json.dump(results, sys.stdout)


main()
