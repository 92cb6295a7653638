"""An independent small CNN that judges generated Fashion-MNIST images (class accuracy, Fréchet features).

    /usr/bin/python3 tools/eval_classifier.py train [--out tools/runs/classifier] [--epochs 4]
    /usr/bin/python3 tools/eval_classifier.py test  [--ckpt tools/runs/classifier/classifier.pt]

It is trained only on the real train split (with ±2 px random shifts so it does not key on exact
placement) and never sees generated images. Input: 3-channel 32×32 uint8 images as the app stores them,
mapped to [-1,1]. `features()` is the 128-d penultimate layer used for the Fréchet distance.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(TOOLS_DIR, 'runs', 'classifier')


def build_classifier():
    import torch.nn as nn

    class FashionCNN(nn.Module):
        def __init__(self):
            super().__init__()
            def block(ci, co):
                return [nn.Conv2d(ci, co, 3, 1, 1), nn.BatchNorm2d(co), nn.ReLU(inplace=True)]
            self.conv = nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2),
                                      *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
                                      *block(64, 128), nn.AdaptiveAvgPool2d(2), nn.Flatten())
            self.fc = nn.Sequential(nn.Dropout(0.3), nn.Linear(512, 128), nn.ReLU(inplace=True))
            self.out = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 10))

        def features(self, x):
            return self.fc(self.conv(x))

        def forward(self, x):
            return self.out(self.features(x))

    return FashionCNN()


def u8_to_input(images_u8):
    import torch
    return torch.from_numpy(images_u8).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def random_shift(x, gen, max_shift: int = 2):
    import torch
    import torch.nn.functional as F
    B = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (B,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (B,), generator=gen)
    H = x.shape[-1]
    return torch.stack([padded[i, :, dy[i]:dy[i] + H, dx[i]:dx[i] + H] for i in range(B)])


def predict(model, images_u8, batch: int = 500):
    """(predicted class, 128-d features) for uint8 N×32×32×3 images."""
    import torch
    model.eval()
    preds, feats = [], []
    with torch.no_grad():
        for i in range(0, len(images_u8), batch):
            f = model.features(u8_to_input(images_u8[i:i + batch]))
            preds.append(model.out(f).argmax(1))
            feats.append(f)
    return torch.cat(preds).numpy(), torch.cat(feats).double().numpy()


def load_classifier(path: str = os.path.join(DEFAULT_OUT, 'classifier.pt')):
    import torch
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path} not found: run `tools/eval_classifier.py train` first')
    m = build_classifier()
    m.load_state_dict(torch.load(path, map_location='cpu')['model'])
    return m.eval()


def train(out: str, epochs: int, seed: int = 0, data_limit: int = 0, data_dir: str = '') -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from data_fashion_mnist import load_arrays
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    tx, ty = load_arrays('train', data_dir) if data_dir else load_arrays('train')
    vx, vy = load_arrays('test', data_dir) if data_dir else load_arrays('test')
    if data_limit:
        tx, ty, vx, vy = tx[:data_limit], ty[:data_limit], vx[:data_limit], vy[:data_limit]
    model = build_classifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    B = 128
    steps = epochs * (len(tx) // B)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=max(1, steps))
    t0, step = time.time(), 0
    for ep in range(epochs):
        model.train()
        order = rng.permutation(len(tx))
        for i in range(0, len(tx) - B + 1, B):
            bi = order[i:i + B]
            x = random_shift(u8_to_input(tx[bi]), gen)
            loss = F.cross_entropy(model(x), torch.from_numpy(ty[bi]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                print(json.dumps({'epoch': ep, 'step': step, 'loss': float(loss), 'elapsed_s': time.time() - t0}), flush=True)
    pred, _ = predict(model, vx)
    acc = float((pred == vy).mean())
    per_class = [float((pred[vy == c] == c).mean()) for c in range(10)]
    res = {'test_accuracy': acc, 'per_class_accuracy': per_class, 'epochs': epochs, 'train_wall_s': time.time() - t0,
           'n_test': int(len(vy))}
    os.makedirs(out, exist_ok=True)
    torch.save({'model': model.state_dict(), 'result': res}, os.path.join(out, 'classifier.pt'))
    with open(os.path.join(out, 'classifier_result.json'), 'w') as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res), flush=True)
    return res


def main(argv=None) -> int:
    from train_common import set_threads_before_torch
    ap = argparse.ArgumentParser(description='train / test the judging classifier')
    ap.add_argument('cmd', choices=['train', 'test'])
    ap.add_argument('--out', default=DEFAULT_OUT)
    ap.add_argument('--ckpt', default=os.path.join(DEFAULT_OUT, 'classifier.pt'))
    ap.add_argument('--epochs', type=int, default=4)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--data-limit', type=int, default=0)
    a = ap.parse_args(argv)
    set_threads_before_torch(a.threads, 1)
    if a.cmd == 'train':
        train(a.out, a.epochs, data_limit=a.data_limit)
    else:
        from data_fashion_mnist import load_arrays
        vx, vy = load_arrays('test')
        pred, _ = predict(load_classifier(a.ckpt), vx)
        print(json.dumps({'test_accuracy': float((pred == vy).mean())}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
