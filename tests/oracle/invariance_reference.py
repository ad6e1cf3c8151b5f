"""Oracle for tests/invariance_test.ts: the reference InvNet (ECN's exemplar memory and invariance
losses, from the authors' code quoted in ../shared/seed, with the legacy autograd Function rewritten
as a static one) run for several epochs on given features."""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


from ecn_reference import InvNet  # noqa: E402

req = json.load(sys.stdin)
net = InvNet(req["dim"], req["n"], beta=req["beta"], knn=req["knn"], alpha=req["alpha"])
out = []
for step in req["steps"]:
    x = torch.tensor(step["features"]).reshape(-1, req["dim"]).requires_grad_(True)
    f = F.normalize(x)
    idx = torch.tensor(step["indexes"], dtype=torch.int64)
    loss = net.forward(f, idx, step["epoch"])
    loss.backward()
    out.append({"loss": loss.item(), "grad": x.grad.reshape(-1).tolist(), "memory": net.em.reshape(-1).tolist()})
json.dump(out, sys.stdout)
