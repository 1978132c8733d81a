"""Run every benchmark in turn: ``python -m bench`` (``make bench``)."""
import importlib
import sys

BENCHES = ("bench.bench_train_step", "bench.bench_loader", "bench.bench_vit", "bench.bench_grade", "bench.bench_kaggle")

for name in BENCHES:
    print(f"\n=== {name}", flush=True)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        print(f"missing: {e}")
        continue
    sys.argv = [name]
    module.main()
