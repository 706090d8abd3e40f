"""MAE pre-training probe on in-memory clips (informal, not product code, not installed);
its encoder weights are fine-tuned with `probe.py --init FILE`. See probe.py."""
import argparse, math, os, sys, time, dataclasses
import numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe
from videoedge.train import presets as P
from transformers import VideoMAEForPreTraining

ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--epochs", type=int, default=50)
ap.add_argument("--reps", type=int, default=1)
ap.add_argument("--bs", type=int, default=32)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--mask", type=float, default=0.9)
ap.add_argument("--dec-hidden", type=int, default=96)
ap.add_argument("--dec-layers", type=int, default=2)
ap.add_argument("--out", required=True)
ap.add_argument("--raw", action="store_true")
ap.add_argument("--all", action="store_true", help="use val+test videos too (unlabelled)")
a = ap.parse_args()
torch.set_num_threads(int(__import__("os").environ.get("THREADS", "2")))
torch.manual_seed(a.seed); rng = np.random.default_rng(a.seed)
data = probe.load(f"{probe.DIR}/ds{a.seed}", f"{probe.DIR}/cache{a.seed}.pt")
pre = P.get_preset("tiny")
cfg = pre.config(data["labels"])
cfg.decoder_hidden_size = a.dec_hidden; cfg.decoder_num_hidden_layers = a.dec_layers
cfg.decoder_num_attention_heads = max(1, a.dec_hidden // 32); cfg.decoder_intermediate_size = a.dec_hidden * 4
cfg.norm_pix_loss = not a.raw
model = VideoMAEForPreTraining(cfg).train()
tr = data["train"]
n_t, n_s = cfg.num_frames // cfg.tubelet_size, (cfg.image_size // cfg.patch_size) ** 2
n_mask = int(round(a.mask * n_s))
spe = math.ceil(len(tr) * a.reps / a.bs); total = spe * a.epochs; warm = int(0.1 * total)
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.05, betas=(0.9, 0.95))
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / max(1, warm) if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
t0 = time.time(); losses = []
for ep in range(a.epochs):
    order = np.repeat(rng.permutation(len(tr)), a.reps)
    for b in range(0, len(order), a.bs):
        ids = order[b:b + a.bs]
        x = torch.stack([probe.train_clip(tr[i][0], tr[i][1], rng) for i in ids])
        m = torch.zeros(len(ids), n_s, dtype=torch.bool)
        for r in range(len(ids)):
            m[r, torch.randperm(n_s)[:n_mask]] = True
        mask = m.repeat(1, n_t)  # tube: the same spatial mask for every time step
        loss = model(pixel_values=x, bool_masked_pos=mask).loss
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        losses.append(loss.item())
    if ep % 5 == 4 or ep == a.epochs - 1:
        print(f"ep {ep+1} loss {np.mean(losses[-spe:]):.4f} t {time.time()-t0:.0f}", flush=True)
sd = {k[len("videomae."):]: v for k, v in model.state_dict().items() if k.startswith("videomae.")}
torch.save({"videomae." + k: v for k, v in sd.items()}, a.out)
print("saved", a.out, len(sd), f"{time.time()-t0:.0f}s")
