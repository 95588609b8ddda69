"""A small 3D CNN on the volumes benches/volume_cnn_reference.ts exports.

Reference numbers for issue 20: does a convolutional encoder, trained the
same way as mmjepa's patch encoder (300 labels, flips, best validation
check), read a scenario's label better? And does the radiomics pretext
(regress the 16 standardized nodule measurements on unlabeled volumes,
as models/radiomics_pretext.ts does) help it?

Usage (normally through the .ts driver):
  /usr/bin/python3 benches/torch_volume_cnn.py DIR SEED STEPS PRETEXT_STEPS
DIR holds vol.bin (float32 [patients, edge^3]) and meta.json (edge, rows of
{split, label, rad}). Prints one JSON line.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)


def auc(y, p):
    order = np.argsort(p, kind="mergesort")
    r = np.empty(len(p))
    r[order] = np.arange(1, len(p) + 1)
    n1 = y.sum()
    n0 = len(y) - n1
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def block(i, o):
    return nn.Sequential(
        nn.Conv3d(i, o, 3, padding=1), nn.BatchNorm3d(o), nn.ReLU(), nn.MaxPool3d(2)
    )


class Cnn(nn.Module):
    """Three conv blocks (8, 16, 32 channels), mean and max pooled."""

    def __init__(self, n_rad):
        super().__init__()
        self.f = nn.Sequential(block(1, 8), block(8, 16), block(16, 32))
        self.head = nn.Linear(64, 1)
        self.rad = nn.Linear(64, n_rad)
        self.drop = nn.Dropout(0.3)

    def features(self, x):
        z = self.f(x)
        return torch.cat([z.mean((2, 3, 4)), z.amax((2, 3, 4))], 1)


def flips(x):
    for d in (2, 3, 4):
        m = torch.rand(x.shape[0]) < 0.5
        x[m] = x[m].flip(d)
    return x


def run(X, y, R, idx, steps, pretext_steps, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Cnn(R.shape[1])

    def evaluate(ix):
        net.eval()
        with torch.no_grad():
            p = torch.cat([
                net.head(net.features(X[ix[i:i + 100]])).squeeze(1)
                for i in range(0, len(ix), 100)
            ])
        net.train()
        return auc(y[ix], p.numpy())

    if pretext_steps:
        opt = torch.optim.AdamW(
            list(net.f.parameters()) + list(net.rad.parameters()),
            lr=2e-3, weight_decay=0.01,
        )
        for _ in range(pretext_steps):
            b = rng.choice(idx["pool"], 32, replace=False)
            loss = F.mse_loss(net.rad(net.features(flips(X[b].clone()))), R[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    opt = torch.optim.AdamW(
        list(net.f.parameters()) + list(net.head.parameters()),
        lr=1e-3 if pretext_steps else 2e-3, weight_decay=0.01,
    )
    best = (-1.0, None, 0)
    yt = torch.tensor(y)
    for step in range(1, steps + 1):
        b = rng.choice(idx["train"], 32, replace=False)
        logits = net.head(net.drop(net.features(flips(X[b].clone())))).squeeze(1)
        loss = F.binary_cross_entropy_with_logits(logits, yt[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            v = evaluate(idx["val"])
            if v > best[0]:
                best = (v, {k: t.clone() for k, t in net.state_dict().items()}, step)
    net.load_state_dict(best[1])
    return {
        "val": best[0],
        "bestStep": best[2],
        "internal": evaluate(idx["test"]),
        "external": evaluate(idx["external"]),
    }


def main():
    folder, seed, steps, pretext_steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    meta = json.load(open(f"{folder}/meta.json"))
    e = meta["edge"]
    X = np.fromfile(f"{folder}/vol.bin", dtype=np.float32).reshape(-1, 1, e, e, e)
    rows = meta["rows"]
    split = np.array([r["split"] for r in rows])
    y = np.array([r["label"] if r["label"] is not None else -1 for r in rows], np.float32)
    R = np.array([r["rad"] for r in rows], np.float32)
    idx = {s: np.where(split == s)[0] for s in ["pretrain", "train", "val", "test", "external"]}
    # The pretext pool is mmjepa's pretraining pool: internal pretrain,
    # train and val patients, labels unused.
    idx["pool"] = np.concatenate([idx["pretrain"], idx["train"], idx["val"]])
    pool = idx["pool"]
    mu, sd = X[pool].mean(), X[pool].std()
    X = torch.tensor((X - mu) / sd)
    rm, rs = R[pool].mean(0), R[pool].std(0) + 1e-6
    R = torch.tensor((R - rm) / rs)
    t0 = time.perf_counter()
    out = {"seed": seed, "scratch": run(X, y, R, idx, steps, 0, seed)}
    out["pretext"] = run(X, y, R, idx, steps, pretext_steps, seed)
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
