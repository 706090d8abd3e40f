"""Recipe probe (informal, not product code, not installed): every video of a dataset decoded
once into memory, the tiny VideoMAE trained from scratch on clips cut from it with the
training augmentations approximated (resizing differs from the pipeline's), test accuracy at
every epoch. Fast enough to compare recipes on several dataset draws; the chosen recipe is
then measured with the real pipeline (benchmarks/train_seeds.py).

    PROBE_DIR=/tmp/probe python benchmarks/probes/probe.py --seeds 2,4 --reps 3 --same \
        --smooth 0.1 --wd 0.05 --color --tag F1
needs PROBE_DIR/ds<seed> made by `videoedge data synth PROBE_DIR/ds<seed> --seed <seed>`;
results/ holds the runs quoted in train/README.md (res_<tag>.json: args and per-epoch
history; log_<tag>.txt: runs stopped early, their finished seeds; A16 = the previous
recipe, P1/P2/E1/E2/F1/F2 as in the table there)."""
import argparse, json, math, os, sys, time
from pathlib import Path
import numpy as np
import torch, torch.nn.functional as F
import av, cv2


from videoedge.train.presets import new_model, get_preset

DIR = os.environ.get("PROBE_DIR", "/tmp/probe")


def decode(path, short=80):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames, pts = [], []
        for f in c.decode(video=0):
            img = f.to_ndarray(format="rgb24")
            h, w = img.shape[:2]
            sc = short / min(h, w)
            img = cv2.resize(img, (round(w * sc), round(h * sc)), interpolation=cv2.INTER_LINEAR)
            frames.append(img)
            pts.append(float(f.pts * s.time_base))
    return np.stack(frames), np.array(pts)


def load(ds, cache):
    cache = Path(cache)
    if cache.exists():
        return torch.load(cache, weights_only=False)
    labels = sorted(p.name for p in (Path(ds) / "train").iterdir())
    out = {"labels": labels}
    for split in ("train", "val", "test"):
        items = []
        for li, l in enumerate(labels):
            for f in sorted((Path(ds) / split / l).iterdir()):
                fr, pts = decode(f)
                items.append((torch.from_numpy(fr), pts, li, f.name))
        out[split] = items
    torch.save(out, cache)
    return out


CLIP = 8 * 8 / 30
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def take(fr, pts, start, T=8):
    idx = np.nonzero((pts >= start - 1e-6) & (pts < start + CLIP - 1e-6))[0]
    if len(idx) == 0:
        idx = np.array([0])
    sel = idx[np.linspace(0, len(idx) - 1, T).astype(int)]
    return fr[sel]  # T,H,W,3 uint8


def norm(x):  # T,H,W,3 uint8 -> T,3,H,W
    x = x.permute(0, 3, 1, 2).float() / 255
    return (x - MEAN) / STD


def train_clip(fr, pts, rng, flip=True, scale=(64, 80), start=None):
    dur = pts[-1] + (pts[1] - pts[0])
    if start is None:
        start = rng.uniform(0, max(0.0, dur - CLIP))
    x = norm(take(fr, pts, start))
    s = int(rng.integers(scale[0], scale[1] + 1))
    h, w = x.shape[-2:]
    sc = s / min(h, w)
    x = F.interpolate(x, size=(round(h * sc), round(w * sc)), mode="bilinear", align_corners=False)
    h, w = x.shape[-2:]
    i, j = int(rng.integers(0, h - 64 + 1)), int(rng.integers(0, w - 64 + 1))
    x = x[:, :, i:i + 64, j:j + 64]
    if flip and rng.random() < 0.5:
        x = x.flip(-1)
    if COLOR:
        # x normalised: back to 0..1, jitter, renormalise
        y = x * STD + MEAN
        b = rng.uniform(0.6, 1.4); c = rng.uniform(0.6, 1.4)
        m = y.mean()
        y = (y - m) * c + m * b
        if rng.random() < 0.5:
            y = y[:, torch.from_numpy(rng.permutation(3))]
        if rng.random() < 0.2:
            y = y.mean(1, keepdim=True).expand_as(y)
        x = (y.clamp(0, 1) - MEAN) / STD
    return x
COLOR = False


def eval_clip(fr, pts):
    dur = pts[-1] + (pts[1] - pts[0])
    start = max(0.0, (dur - CLIP) / 2)
    x = norm(take(fr, pts, start))
    h, w = x.shape[-2:]
    sc = 64 / min(h, w)
    x = F.interpolate(x, size=(round(h * sc), round(w * sc)), mode="bilinear", align_corners=False)
    h, w = x.shape[-2:]
    i, j = (h - 64) // 2, (w - 64) // 2
    return x[:, :, i:i + 64, j:j + 64]


@torch.no_grad()
def accuracy(model, X, y):
    model.eval()
    logits = torch.cat([model(pixel_values=X[i:i + 64]).logits for i in range(0, len(X), 64)])
    model.train()
    return (logits.argmax(1) == y).float().mean().item(), logits


def run(data, a, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    labels = data["labels"]
    extra = {}
    if a.dropout:
        extra = dict(hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout)
    from videoedge.train import presets as P
    import dataclasses
    pre = P.get_preset("tiny")
    pre = dataclasses.replace(pre, extra=extra, hidden_size=a.hidden, num_hidden_layers=a.layers,
                              num_attention_heads=a.hidden // 64, intermediate_size=a.hidden * 4, tubelet_size=a.tubelet)
    model = P.new_model(pre, labels, seed=seed).train()
    if a.init:
        sd = torch.load(a.init)
        missing = model.load_state_dict(sd, strict=False)
        print("init", len(sd), missing.missing_keys[:4])
    Xv = torch.stack([eval_clip(f, p) for f, p, _, _ in data["val"]]); yv = torch.tensor([l for *_, l, _ in data["val"]])
    Xt = torch.stack([eval_clip(f, p) for f, p, _, _ in data["test"]]); yt = torch.tensor([l for *_, l, _ in data["test"]])
    tr = data["train"]
    steps_per_epoch = math.ceil(len(tr) * a.reps / a.bs)
    total = steps_per_epoch * a.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd, betas=(0.9, a.beta2))
    warm = int(0.1 * total)
    def lr_at(s):
        if s < warm: return s / max(1, warm)
        p = (s - warm) / max(1, total - warm)
        return 0.5 * (1 + math.cos(math.pi * p)) if a.cos else 1 - p
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    hist = []
    t0 = time.time(); step = 0
    ema = None
    if a.ema:
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for ep in range(a.epochs):
        order = rng.permutation(len(tr))
        order = np.repeat(order, a.reps)
        for b in range(0, len(order), a.bs):
            ids = order[b:b + a.bs]
            starts = {}
            for i in ids:
                if i not in starts:
                    f, p = tr[i][0], tr[i][1]
                    starts[i] = rng.uniform(0, max(0.0, p[-1] + (p[1] - p[0]) - CLIP))
            x = torch.stack([train_clip(tr[i][0], tr[i][1], rng, scale=(64, a.smax), start=starts[i] if a.same else None) for i in ids])
            y = torch.tensor([tr[i][2] for i in ids])
            yoh = F.one_hot(y, len(labels)).float()
            if a.smooth:
                yoh = yoh * (1 - a.smooth) + a.smooth / len(labels)
            if a.mixup and rng.random() < a.mixup_p:
                lam = rng.beta(a.mixup, a.mixup)
                perm = torch.randperm(len(ids))
                x = lam * x + (1 - lam) * x[perm]
                yoh = lam * yoh + (1 - lam) * yoh[perm]
            logits = model(pixel_values=x).logits
            loss = torch.sum(-yoh * F.log_softmax(logits, -1), -1).mean()
            opt.zero_grad(); loss.backward()
            if a.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step(); sched.step(); step += 1
            if ema is not None:
                with torch.no_grad():
                    for k, v in model.state_dict().items():
                        if v.dtype.is_floating_point:
                            ema[k].mul_(a.ema).add_(v, alpha=1 - a.ema)
        va, _ = accuracy(model, Xv, yv); ta, _ = accuracy(model, Xt, yt)
        rec = {"ep": ep + 1, "loss": round(loss.item(), 3), "val": round(va, 3), "test": round(ta, 3), "t": round(time.time() - t0)}
        if ema is not None:
            cur = {k: v.clone() for k, v in model.state_dict().items()}
            model.load_state_dict(ema); eva, _ = accuracy(model, Xv, yv); eta, _ = accuracy(model, Xt, yt)
            model.load_state_dict(cur)
            rec.update(eval=round(eva, 3), etest=round(eta, 3))
        hist.append(rec)
        if a.verbose: print(rec, flush=True)
    best = max(hist, key=lambda h: (h["val"], h["ep"] if a.late else -h["ep"]))
    return {"seed": seed, "final_test": hist[-1]["test"], "best_val": best["val"], "best_ep": best["ep"],
            "best_test": best["test"], "ema_test": hist[-1].get("etest"), "secs": round(time.time() - t0), "hist": hist}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--wd", type=float, default=0.0)
    ap.add_argument("--bs", type=int, default=16)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--smax", type=int, default=80)
    ap.add_argument("--smooth", type=float, default=0.0)
    ap.add_argument("--mixup", type=float, default=0.0)
    ap.add_argument("--mixup-p", type=float, default=1.0)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--clip", type=float, default=0.0)
    ap.add_argument("--ema", type=float, default=0.0)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--cos", action="store_true")
    ap.add_argument("--same", action="store_true")
    ap.add_argument("--color", action="store_true")
    ap.add_argument("--tubelet", type=int, default=2)
    ap.add_argument("--late", action="store_true")
    ap.add_argument("--init", default=None)
    ap.add_argument("--tag", default="x")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    COLOR = a.color
    torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
    res = []
    for s in map(int, a.seeds.split(",")):
        data = load(f"{DIR}/ds{s}", f"{DIR}/cache{s}.pt")
        r = run(data, a, s)
        print(a.tag, {k: v for k, v in r.items() if k != "hist"}, flush=True)
        res.append(r)
    with open(f"{DIR}/res_{a.tag}.json", "w") as f:
        json.dump({"args": vars(a), "res": res}, f)
    ft = [r["final_test"] for r in res]; bt = [r["best_test"] for r in res]
    print(a.tag, "FINAL min %.3f mean %.3f | BESTVAL min %.3f mean %.3f" % (min(ft), np.mean(ft), min(bt), np.mean(bt)))
