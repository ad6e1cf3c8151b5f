"""Oracle for tests/invariance_test.ts: the reference InvNet (ECN's exemplar memory and invariance
losses, from the authors' code quoted in ../shared/seed, with the legacy autograd Function rewritten
as a static one) run for several epochs on given features."""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


class ExemplarMemory(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, targets, em, alpha):
        ctx.save_for_backward(inputs, targets)
        ctx.em, ctx.alpha = em, alpha
        return inputs.mm(em.t())

    @staticmethod
    def backward(ctx, grad_outputs):
        inputs, targets = ctx.saved_tensors
        grad_inputs = grad_outputs.mm(ctx.em)
        for x, y in zip(inputs, targets):
            ctx.em[y] = ctx.alpha * ctx.em[y] + (1.0 - ctx.alpha) * x
            ctx.em[y] /= ctx.em[y].norm()
        return grad_inputs, None, None, None


class InvNet:
    def __init__(self, num_features, num_classes, beta=0.05, knn=6, alpha=0.01):
        self.alpha, self.beta, self.knn = alpha, beta, knn
        self.em = torch.zeros(num_classes, num_features)

    def forward(self, inputs, targets, epoch):
        alpha = self.alpha * epoch
        inputs = ExemplarMemory.apply(inputs, targets, self.em, alpha)
        inputs = inputs / self.beta
        if self.knn > 0 and epoch > 4:
            return self.smooth_loss(inputs, targets)
        return F.cross_entropy(inputs, targets)

    def smooth_loss(self, inputs, targets):
        targets = self.smooth_hot(inputs.detach().clone(), targets.detach().clone(), self.knn)
        outputs = F.log_softmax(inputs, dim=1)
        loss = -(targets * outputs)
        return loss.sum(dim=1).mean(dim=0)

    def smooth_hot(self, inputs, targets, k=6):
        _, index_sorted = torch.sort(inputs, dim=1, descending=True)
        ones_mat = torch.ones(targets.size(0), k)
        targets = torch.unsqueeze(targets, 1)
        targets_onehot = torch.zeros(inputs.size())
        weights = F.softmax(ones_mat, dim=1)
        targets_onehot.scatter_(1, index_sorted[:, 0:k], ones_mat * weights)
        targets_onehot.scatter_(1, targets, float(1))
        return targets_onehot


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
