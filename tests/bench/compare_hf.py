#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SiDA's C++ engine against Hugging Face transformers (PyTorch eager), side by side.

    installer/bootstrap.sh --fixture-tools
    ~/.local/share/sida-studio/venv-torch-$(cat installer/torch-version.txt)/bin/python \
        tests/bench/compare_hf.py --model resources/models/sst2-switch --sida build/release/bin/sida \
        --data ../shared/data/glue/SST-2/dev.tsv --threads 2

Same weights (the model folder), same inputs (SST-2 dev sentences), same thread count. Hugging Face
runs SwitchTransformersEncoderModel + the classification head (masked mean pooling, dense, tanh,
out_proj) under torch.inference_mode(); SiDA runs `sida bench --policy standard` (every expert
resident, the routers decide). Both tokenize as part of the timed work. Prints samples/s per
batch size and the ratio.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import SwitchTransformersEncoderModel, T5Tokenizer


def hf_throughput(model_dir, sentences, batch_size, threads):
    torch.set_num_threads(threads)
    model = SwitchTransformersEncoderModel.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    tokenizer = T5Tokenizer(vocab_file=str(Path(model_dir) / "spiece.model"), legacy=True)
    head = {k: v.float() for k, v in load_file(Path(model_dir) / "model.safetensors").items() if k.startswith("classifier.")}

    def classify(batch):
        encoded = tokenizer(batch, padding=True, truncation=True, max_length=512, return_tensors="pt")
        hidden = model(input_ids=encoded.input_ids, attention_mask=encoded.attention_mask).last_hidden_state
        mask = encoded.attention_mask.unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        dense = torch.tanh(pooled @ head["classifier.dense.weight"].T + head["classifier.dense.bias"])
        return torch.softmax(dense @ head["classifier.out_proj.weight"].T + head["classifier.out_proj.bias"], -1)

    with torch.inference_mode():
        classify(sentences[:batch_size])  # warm-up
        start = time.perf_counter()
        for i in range(0, len(sentences), batch_size):
            classify(sentences[i:i + batch_size])
        return len(sentences) / (time.perf_counter() - start)


def sida_throughput(sida, model_dir, data, limit, batch_size, threads):
    out = subprocess.run([sida, "bench", str(model_dir), "--data", str(data), "--limit", str(limit),
                          "--policy", "standard", "--batch", str(batch_size), "--threads", str(threads),
                          "--device", "cpu", "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["runs"][0]["samples_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--sida", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=872)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,32")
    args = parser.parse_args()
    lines = Path(args.data).read_text(encoding="utf-8").splitlines()[1:args.limit + 1]
    sentences = [line.split("\t")[0] for line in lines]
    print(f"{len(sentences)} sentences, {args.threads} threads, torch {torch.__version__}")
    print(f"{'batch':>5} {'HF samples/s':>13} {'SiDA samples/s':>15} {'ratio':>6}")
    for batch_size in (int(b) for b in args.batches.split(",")):
        hf = hf_throughput(args.model, sentences, batch_size, args.threads)
        ours = sida_throughput(args.sida, args.model, args.data, len(sentences), batch_size, args.threads)
        print(f"{batch_size:>5} {hf:>13.1f} {ours:>15.1f} {ours / hf:>6.2f}")


if __name__ == "__main__":
    sys.exit(main())
