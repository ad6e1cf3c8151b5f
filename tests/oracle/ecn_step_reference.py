"""Oracle for tests/ecn_step_test.ts: whole ECN training steps as the reference code
(zhunzhong07/ECN, quoted in the project's ../shared/seed) runs them, on the project's initial weights.

The pieces follow the reference: the ResNet wrapper (base, feat, feat_bn, classifier, dropout on
both branches, `output_feature='tgt_feat'`), InvNet with the ExemplarMemory Function (written as a
static Function: the reference's legacy form no longer runs), smooth_loss / smooth_hot, the
trainer's loss `(1 - lmd) * source + lmd * target`, the optimizer's two groups with `lr_mult` and
`adjust_lr`. The backbone is torchvision's ResNet; conv1 .. layer2 are frozen and their
BatchNorms stay in eval mode.

stdin: {"arch": "resnet18", "num_classes": int, "num_features": int, "dropout": float,
        "memory_size": int, "beta": float, "knn": int, "alpha": float, "lmd": float,
        "lr": float, "lr_mult": float, "momentum": float, "weight_decay": float,
        "step_size": int, "gamma": float,
        "state": PATH, "input": PATH, "out_dir": DIR,
        "steps": [{"epoch": int, "seed": int, "pids": [int], "indexes": [int]}]}
  state (safetensors): the project's full state dict (base.*, feat.*, feat_bn.*, classifier.*).
  input (safetensors): "xs.<k>" (source images), "xt.<k>" (target images) for step k.
  Before each step the generator is seeded with the step's seed; the reference's draw order is
  kept (source forward: target-branch dropout, then the source branch's; target forward).
  DIR/step<k>.safetensors: "grad.<param>" and "param.<param>" (after the SGD step) for every
  trainable parameter, "buffer.<name>" for every buffer after the step, "memory".
stdout: {"steps": [{"loss_s", "loss_t", "loss", "margin", "no_grad": [names]}]}
  margin: the smallest gap, over the neighborhood steps' samples, between the k-th and the
  (k+1)-th largest logit (a tie would make the top-k choice arbitrary).
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import autograd, nn
from torch.nn import init

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mobilenet_reference import read_safetensors  # noqa: E402
from write_weights import write_safetensors  # noqa: E402


class ResNet(nn.Module):
    """The reference's ResNet wrapper (has_embedding, dropout > 0, num_classes > 0, norm off)."""

    def __init__(self, arch, num_features, dropout, num_classes):
        super().__init__()
        self.base = getattr(torchvision.models, arch)()
        # The reference freezes every base module before layer3.
        self.fixed_names = []
        for name, module in self.base._modules.items():
            if name == "layer3":
                break
            self.fixed_names.append(name)
            for param in module.parameters():
                param.requires_grad = False
        self.num_features = num_features
        self.dropout = dropout
        out_planes = self.base.fc.in_features
        self.feat = nn.Linear(out_planes, num_features)
        self.feat_bn = nn.BatchNorm1d(num_features)
        init.kaiming_normal_(self.feat.weight, mode="fan_out")
        init.constant_(self.feat.bias, 0)
        init.constant_(self.feat_bn.weight, 1)
        init.constant_(self.feat_bn.bias, 0)
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(num_features, num_classes)
        init.normal_(self.classifier.weight, std=0.001)
        init.constant_(self.classifier.bias, 0)

    def set_model_train(self):
        """train(), with the frozen stages' BatchNorms back in eval mode (ECN.md)."""
        self.train()
        for name in self.fixed_names:
            for m in self.base._modules[name].modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

    def forward(self, x, output_feature=None):
        for name, module in self.base._modules.items():
            if name == "avgpool":
                break
            x = module(x)
        x = F.avg_pool2d(x, x.size()[2:])
        x = x.view(x.size(0), -1)
        if output_feature == "pool5":
            return F.normalize(x)
        x = self.feat(x)
        x = self.feat_bn(x)
        tgt_feat = F.normalize(x)
        tgt_feat = self.drop(tgt_feat)
        if output_feature == "tgt_feat":
            return tgt_feat
        x = F.relu(x)
        if self.dropout > 0:
            x = self.drop(x)
        return self.classifier(x)


from ecn_reference import ExemplarMemory, InvNet  # noqa: E402


def main():
    req = json.load(sys.stdin)
    state = read_safetensors(req["state"])
    inputs = read_safetensors(req["input"])
    model = ResNet(req["arch"], req["num_features"], req["dropout"], req["num_classes"])
    # The project's backbone has no ImageNet head; the reference's is never used in forward.
    if "base.fc.weight" not in state:
        model.base.fc = nn.Identity()
    model.load_state_dict(state, strict=True)
    inv = InvNet(req["num_features"], req["memory_size"], beta=req["beta"], knn=req["knn"],
                 alpha=req["alpha"])

    base_param_ids = set(map(id, model.base.parameters()))
    base_params_need_for_grad = filter(lambda p: p.requires_grad, model.base.parameters())
    new_params = [p for p in model.parameters() if id(p) not in base_param_ids]
    param_groups = [
        {"params": base_params_need_for_grad, "lr_mult": req["lr_mult"]},
        {"params": new_params, "lr_mult": 1.0},
    ]
    optimizer = torch.optim.SGD(param_groups, lr=req["lr"], momentum=req["momentum"],
                                weight_decay=req["weight_decay"], nesterov=True)
    lmd = req["lmd"]
    report = []
    for k, step in enumerate(req["steps"]):
        epoch = step["epoch"]
        # The reference's adjust_lr and set_model_train at the start of an epoch.
        lr = req["lr"] * (req["gamma"] ** (epoch // req["step_size"]))
        for g in optimizer.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1)
        model.set_model_train()
        xs, xt = inputs["xs.%d" % k], inputs["xt.%d" % k]
        pids = torch.tensor(step["pids"], dtype=torch.long)
        index_target = torch.tensor(step["indexes"], dtype=torch.long)
        inv.margins = []
        torch.manual_seed(step["seed"])
        outputs = model(xs)
        source_pid_loss = F.cross_entropy(outputs, pids)
        outputs = model(xt, "tgt_feat")
        loss_un = inv(outputs, index_target, epoch=epoch)
        loss = (1 - lmd) * source_pid_loss + lmd * loss_un
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        out = {}
        no_grad = []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if p.grad is None:
                no_grad.append(name)
                continue
            out["grad." + name] = p.grad
            out["param." + name] = p.detach()
        for name, b in model.named_buffers():
            out["buffer." + name] = b
        out["memory"] = inv.em
        write_safetensors(os.path.join(req["out_dir"], "step%d.safetensors" % k), out)
        report.append({
            "loss_s": source_pid_loss.item(),
            "loss_t": loss_un.item(),
            "loss": loss.item(),
            "margin": min(inv.margins) if inv.margins else None,
            "no_grad": no_grad,
        })
    print(json.dumps({"steps": report}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
