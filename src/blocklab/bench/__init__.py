"""blocklab.bench: benchmarks against peers, each printing a table and writing JSON.

    timing.py     alternate timing, medians and quartiles, peak memory, the machine, tables, JSON
    peers.py      the GPT sizes and the contenders: blocklab, torch.nn, transformers' GPT-2
    gpt.py        a training step against the peers, fused-vs-explicit loss curves, paper-base MFU
    flops.py      matmul FLOPs of a training step from the config; MFU
    attention.py  explicit vs fused attention: time and peak memory up to T = 4096
    generate.py   tokens per second with and without the KV cache

The `blocklab bench` verbs (gpt, attention, generate, engine, all) are in blocklab/cli/bench.py;
the numpy engine's benchmark (`bench engine`) lives with the engine, in autograd/bench.py.
"""
