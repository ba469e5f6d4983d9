import statistics, torch, numpy as np
from monkeycam.engine.backends import CudaBackend
from monkeycam.model import Keypoints, build_model, preset
for name in ("vox", "face256"):
    torch.manual_seed(0)
    model = build_model(preset(name), with_discriminator=False).eval()
    rng = np.random.default_rng(0)
    src = rng.integers(0, 255, (256, 256, 3), np.uint8); drv = rng.integers(0, 255, (256, 256, 3), np.uint8)
    for pad in (0, 8):
        b = CudaBackend(model, pad_to=pad)
        with torch.inference_mode():
            f = b.encode_source(b.to_tensor(src)); x = b.to_tensor(drv)
            for _ in range(20):
                kp = b.keypoints(x); kp = Keypoints(kp.mean.clone(), kp.covar.clone()); b.generate(f, kp)
            times = []
            for _ in range(300):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record(); kp = b.keypoints(x); kp = Keypoints(kp.mean.clone(), kp.covar.clone()); b.generate(f, kp); e.record(); e.synchronize()
                times.append(s.elapsed_time(e))
        ms = statistics.median(times)
        print(f"{name} pad_to={pad}: model time {ms:.3f} ms -> {1000/ms:.1f} frames/s ({b.description})", flush=True)
