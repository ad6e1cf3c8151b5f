"""The PyTorch side of scripts/bench_features.ts: ResNet-50 pool5 features of real images.

argv: LIST.json BATCH WORKERS THREADS [LIMIT]. LIST.json is [{"path": ...}, ...] (the same list
this project's side reads); LIMIT takes the first LIMIT entries. The usual open-reid / ECN test
pipeline: a DataLoader with WORKERS processes, PIL open + convert("RGB"), Resize((256, 128),
bicubic), ToTensor, Normalize(ImageNet); torchvision resnet50 (random init, fc = Identity) in
eval mode under no_grad, features L2-normalized as ECN's pool5. `seconds` runs from the start of
the DataLoader pass to all features in hand (the network is built before).

Prints {"images", "seconds", "images_per_s", "peak_rss" (KiB, this process), "peak_rss_worker"
(KiB, the largest loader process), "threads", "dim", "height", "width", "batch_size", "workers"}.
"""

import json
import resource
import sys
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

HEIGHT, WIDTH = 256, 128


class Images(torch.utils.data.Dataset):
    def __init__(self, paths):
        self.paths = paths
        self.transform = T.Compose([
            T.Resize((HEIGHT, WIDTH), interpolation=T.InterpolationMode.BICUBIC),
            T.ToTensor(),
            T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.transform(Image.open(self.paths[i]).convert("RGB"))


def main():
    list_path = sys.argv[1]
    batch, workers, threads = (int(a) for a in sys.argv[2:5])
    limit = int(sys.argv[5]) if len(sys.argv) > 5 else None
    with open(list_path) as f:
        paths = [e["path"] for e in json.load(f)][:limit]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()
    model.eval()
    loader = torch.utils.data.DataLoader(
        Images(paths), batch_size=batch, shuffle=False, num_workers=workers
    )
    t0 = time.perf_counter()
    out = []
    with torch.no_grad():
        for x in loader:
            out.append(torch.nn.functional.normalize(model(x), dim=1))
    features = torch.cat(out)
    seconds = time.perf_counter() - t0
    del loader  # the workers are joined (and so counted in RUSAGE_CHILDREN)
    print(json.dumps({
        "images": features.shape[0],
        "seconds": seconds,
        "images_per_s": features.shape[0] / seconds,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "peak_rss_worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "threads": torch.get_num_threads(),
        "dim": features.shape[1],
        "height": HEIGHT,
        "width": WIDTH,
        "batch_size": batch,
        "workers": workers,
    }))


if __name__ == "__main__":
    main()
