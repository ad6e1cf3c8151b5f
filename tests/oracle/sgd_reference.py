"""Oracle for tests/sgd_test.ts: torch.optim.SGD with parameter groups and MultiStepLR.

stdin: {"params": [{"data": [...], "shape": [...]}], "grads": [[{"data", "shape"} per param] per
        step], "groups": [{"indices": [...], "lr_mult": m}], "base_lr": lr, "momentum": m,
        "dampening": d, "weight_decay": wd, "nesterov": bool, "milestones": [...], "gamma": g}
Each step s: set the gradients, optimizer.step(), scheduler.step() (so step s runs at
base_lr * gamma^(milestones <= s) * lr_mult).
Prints {"params": [flat values after all steps], "lrs": [[lr per group] per step]}.
"""

import json
import sys

import torch


def main():
    cfg = json.load(sys.stdin)
    torch.set_num_threads(1)
    params = [torch.tensor(p["data"], dtype=torch.float32).reshape(p["shape"]).requires_grad_()
              for p in cfg["params"]]
    groups = [{"params": [params[i] for i in g["indices"]], "lr": cfg["base_lr"] * g["lr_mult"]}
              for g in cfg["groups"]]
    opt = torch.optim.SGD(groups, lr=cfg["base_lr"], momentum=cfg["momentum"],
                          dampening=cfg["dampening"], weight_decay=cfg["weight_decay"],
                          nesterov=cfg["nesterov"])
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=cfg["milestones"], gamma=cfg["gamma"])
    lrs = []
    for step in cfg["grads"]:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g["data"], dtype=torch.float32).reshape(g["shape"])
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    print(json.dumps({"params": [p.detach().reshape(-1).tolist() for p in params], "lrs": lrs}))


if __name__ == "__main__":
    main()
