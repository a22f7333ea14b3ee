#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a corpus of broken model folders, each made from a sound fixture model with one thing
wrong, and a manifest saying which error each must give. Python 3 standard library only.

    tests/badmodels/make_bad_models.py OUT_DIR [--fixtures tests/fixtures]

OUT_DIR/manifest.json:

    {"version": 1,
     "models": [{"folder": "truncated-half",             # OUT_DIR/<folder> is the model folder
                 "error": "truncated",                   # the error message must contain this
                 "what": "model.safetensors cut in half"},
                ...]}

Every folder must be refused with a message containing "error": `sida info FOLDER` and
`sida classify --model FOLDER TEXT` exit with status 1 and print it on stderr, and the app's
open-model dialog shows it; nothing may crash or hang. tests/cli/tst_bad_models.cpp runs this.
"""
import argparse
import json
import math
import pathlib
import shutil
import struct
import sys

SINGLE = "hf/e4-step2-fp32"
SHARDED = "hf/e4-step2-sharded"


# ---- safetensors files as (header, data) ------------------------------------------------------

def read_safetensors(path):
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])  # dicts keep the file's key order
    return header, raw[8 + length:]


def write_safetensors(path, header, data, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def tensors_in_data_order(header):
    names = [name for name in header if name != "__metadata__"]
    return sorted(names, key=lambda name: header[name]["data_offsets"][0])


def header_text_span(raw):
    (length,) = struct.unpack("<Q", raw[:8])
    return 8, 8 + length


# ---- the corpus -------------------------------------------------------------------------------

class Corpus:
    def __init__(self, out, fixtures):
        self.out = out
        self.fixtures = fixtures
        self.models = []

    def folder(self, name, source, error, what, info_refuses=True):
        """A copy of the fixture `source` (links followed), recorded in the manifest.

        `info_refuses`: False where the fault is in an expert's bytes, which the engine reads only
        when the expert is first needed: `sida info` then loads the folder, and classifying with
        the standard policy (every expert read) reports it."""
        target = self.out / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for entry in sorted((self.fixtures / source).iterdir()):
            shutil.copyfile(entry, target / entry.name)  # spiece.model is a link in the fixtures
        self.models.append({"folder": name, "error": error, "what": what, "info_refuses": info_refuses})
        return target

    def write_manifest(self):
        manifest = {"version": 1, "models": self.models}
        (self.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def edit_config(folder, **fields):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(fields)
    path.write_text(json.dumps(config, indent=2) + "\n")


def rewrite_header(folder, edit, file="model.safetensors"):
    header, data = read_safetensors(folder / file)
    data = edit(header, data) or data
    write_safetensors(folder / file, header, data)


def overwrite_tensor(folder, tensor, value_bytes, file="model.safetensors"):
    path = folder / file
    raw = bytearray(path.read_bytes())
    header, _ = read_safetensors(path)
    _, data_offset = header_text_span(raw)
    begin = data_offset + header[tensor]["data_offsets"][0]
    raw[begin:begin + len(value_bytes)] = value_bytes
    path.write_bytes(bytes(raw))


def flip_bit(folder, byte_offset, bit, file="model.safetensors"):
    path = folder / file
    raw = bytearray(path.read_bytes())
    raw[byte_offset] ^= 1 << bit
    path.write_bytes(bytes(raw))


def make(corpus):
    c = corpus
    fixtures = c.fixtures
    single_file = (fixtures / SINGLE / "model.safetensors").read_bytes()
    header_begin, header_end = header_text_span(single_file)
    header_text = single_file[header_begin:header_end]

    # -- truncated and bit-flipped model.safetensors
    d = c.folder("truncated-half", SINGLE, "truncated", "model.safetensors cut in half")
    (d / "model.safetensors").write_bytes(single_file[:len(single_file) // 2])
    d = c.folder("truncated-in-header", SINGLE, "runs past the end", "cut inside the JSON header")
    (d / "model.safetensors").write_bytes(single_file[:header_begin + len(header_text) // 2])
    d = c.folder("truncated-to-4-bytes", SINGLE, "too small", "4 bytes: not even the header length")
    (d / "model.safetensors").write_bytes(single_file[:4])
    d = c.folder("empty-safetensors", SINGLE, "too small", "model.safetensors of 0 bytes")
    (d / "model.safetensors").write_bytes(b"")

    d = c.folder("bitflip-header-length", SINGLE, "exceeds the limit",
                 "bit 62 of the header length flipped")
    flip_bit(d, 7, 6)
    d = c.folder("bitflip-json-brace", SINGLE, "is not valid UTF-8 JSON",
                 "the header's opening brace flipped into 'z'")
    flip_bit(d, header_begin, 0)
    d = c.folder("bitflip-dtype-key", SINGLE, "has no 'dtype'", "'dtype' flipped into 'Dtype' once")
    flip_bit(d, header_begin + header_text.index(b'"dtype"') + 1, 5)
    # The last digit of the first "data_offsets" end: still a digit, one byte off.
    offsets_at = header_text.index(b'"data_offsets":[')
    end_digit = header_text.index(b"]", offsets_at) - 1
    d = c.folder("bitflip-offset-digit", SINGLE, "data_offsets span",
                 "lowest bit of a data_offsets digit flipped")
    flip_bit(d, header_begin + end_digit, 0)
    # Weights that decode but are not numbers: what a flipped exponent bit can also produce.
    d = c.folder("nan-weight", SINGLE, "NaN or infinite", "NaN in an attention weight")
    overwrite_tensor(d, "encoder.block.0.layer.0.SelfAttention.q.weight", struct.pack("<f", math.nan))
    d = c.folder("inf-expert-weight", SINGLE, "NaN or infinite", "+Inf in an expert's feed-forward weight",
                 info_refuses=False)
    overwrite_tensor(d, "encoder.block.3.layer.1.mlp.experts.expert_2.wi.weight", struct.pack("<f", math.inf))

    # -- header lengths
    d = c.folder("huge-header-length", SINGLE, "exceeds the limit", "header length 2^64 - 1")
    (d / "model.safetensors").write_bytes(struct.pack("<Q", 2**64 - 1) + single_file[8:])
    d = c.folder("header-length-past-end", SINGLE, "runs past the end",
                 "header length 99,999,999: under the limit, past the end of the file")
    (d / "model.safetensors").write_bytes(struct.pack("<Q", 99_999_999) + single_file[8:])

    # -- offsets
    def overlap(header, data):
        first, second = tensors_in_data_order(header)[:2]
        size = header[second]["data_offsets"][1] - header[second]["data_offsets"][0]
        start = header[first]["data_offsets"][0]
        header[second]["data_offsets"] = [start, start + size]
    d = c.folder("overlapping-offsets", SINGLE, "overlaps", "a tensor starts where the one before does")
    rewrite_header(d, overlap)

    def reverse(header, data):
        name = tensors_in_data_order(header)[1]
        header[name]["data_offsets"].reverse()
    d = c.folder("reversed-offsets", SINGLE, "end before they begin", "a tensor's data_offsets as [end, begin]")
    rewrite_header(d, reverse)

    def swap_different_sizes(header, data):
        names = tensors_in_data_order(header)
        sizes = {n: header[n]["data_offsets"][1] - header[n]["data_offsets"][0] for n in names}
        first = names[0]
        other = next(n for n in names if sizes[n] != sizes[first])
        header[first]["data_offsets"], header[other]["data_offsets"] = (
            header[other]["data_offsets"], header[first]["data_offsets"])
    d = c.folder("swapped-offsets", SINGLE, "data_offsets span", "two tensors of different sizes swap offsets")
    rewrite_header(d, swap_different_sizes)

    def gap(header, data):
        names = tensors_in_data_order(header)
        for name in names[1:]:
            header[name]["data_offsets"] = [o + 4 for o in header[name]["data_offsets"]]
        return data + bytes(4)
    d = c.folder("gap-between-tensors", SINGLE, "leaves a gap after", "4 unused bytes after the first tensor")
    rewrite_header(d, gap)

    # -- dtype and shape against config.json
    def int_embedding(header, data):
        header["shared.weight"]["dtype"] = "I32"  # same size as F32: only the dtype is wrong
    d = c.folder("dtype-i32-embedding", SINGLE, "tensor 'shared.weight'", "the embedding stored as I32")
    rewrite_header(d, int_embedding)

    def unknown_dtype(header, data):
        header["shared.weight"]["dtype"] = "F33"
    d = c.folder("dtype-unknown", SINGLE, "which SiDA does not know", "dtype 'F33'")
    rewrite_header(d, unknown_dtype)

    def transpose_embedding(header, data):
        header["shared.weight"]["shape"].reverse()  # same element count
    d = c.folder("shape-transposed", SINGLE, "but config.json implies", "the embedding stored transposed")
    rewrite_header(d, transpose_embedding)
    d = c.folder("config-d-ff-contradicts-weights", SINGLE, "but config.json implies",
                 "config.json says d_ff 64, the weights have 48")
    edit_config(d, d_ff=64)

    # -- sharded checkpoints
    index_name = "model.safetensors.index.json"
    d = c.folder("missing-shard", SHARDED, "is missing from the model folder", "shard 3 of 5 deleted")
    (d / "model-00003-of-00005.safetensors").unlink()
    d = c.folder("shard-outside-folder", SHARDED, "not a plain file name in the model folder",
                 "the index names '../model-00003-of-00005.safetensors'")
    index = json.loads((d / index_name).read_text())
    for tensor, shard in index["weight_map"].items():
        if shard == "model-00003-of-00005.safetensors":
            index["weight_map"][tensor] = "../" + shard
    (d / index_name).write_text(json.dumps(index, indent=2))
    d = c.folder("truncated-shard", SHARDED, "truncated", "shard 2 of 5 cut in half")
    shard = d / "model-00002-of-00005.safetensors"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])

    # -- config.json
    d = c.folder("config-billion-experts", SINGLE, "1000000000 experts", "num_experts 1000000000")
    edit_config(d, num_experts=1_000_000_000)
    d = c.folder("config-d-model-zero", SINGLE, "field 'd_model' must be positive", "d_model 0")
    edit_config(d, d_model=0)
    d = c.folder("config-not-json", SINGLE, "not valid JSON", "config.json cut after its first line")
    (d / "config.json").write_text("{\n")
    d = c.folder("config-missing", SINGLE, "config.json' does not exist", "no config.json")
    (d / "config.json").unlink()
    d = c.folder("no-weights", SINGLE, "has no model.safetensors", "no model.safetensors and no index")
    (d / "model.safetensors").unlink()

    # -- a predictor trained for another model (format: engine/src/core/predictor_metadata.cpp)
    predictor = {"format": "sida-predictor", "version": 1,
                 "architecture": {"hidden": 16, "lstm_layers": 1, "bidirectional": False},
                 "d_model": 32, "vocab_size": 1152, "num_experts": 4, "moe_blocks": [1, 3],
                 "model_fingerprint": "0" * 64, "recipe": {}, "metrics": {}}
    d = c.folder("predictor-other-fingerprint", SINGLE, "field 'model_fingerprint'",
                 "predictor.json made for a model with another embedding")
    (d / "predictor.json").write_text(json.dumps(predictor, indent=2))
    d = c.folder("predictor-other-d-model", SINGLE, "field 'd_model' is 64 but the model has 32",
                 "predictor.json made for a model with d_model 64")
    (d / "predictor.json").write_text(json.dumps(dict(predictor, d_model=64), indent=2))

    # -- the tokenizer
    d = c.folder("empty-spiece", SINGLE, "is empty", "spiece.model of 0 bytes")
    (d / "spiece.model").write_bytes(b"")
    d = c.folder("truncated-spiece", SINGLE, "is not a SentencePiece model", "spiece.model cut in half")
    model = d / "spiece.model"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    d = c.folder("missing-spiece", SINGLE, "is missing", "no spiece.model")
    (d / "spiece.model").unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=pathlib.Path, help="directory to write the folders and manifest.json into")
    parser.add_argument("--fixtures", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent / "fixtures",
                        help="tests/fixtures (default: beside this script)")
    args = parser.parse_args()
    for model in (SINGLE, SHARDED):
        if not (args.fixtures / model / "config.json").is_file():
            sys.exit(f"make_bad_models.py: fixture model '{args.fixtures / model}' not found")
    args.out.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(args.out, args.fixtures)
    make(corpus)
    corpus.write_manifest()
    print(f"{len(corpus.models)} bad model folders in {args.out}")


if __name__ == "__main__":
    main()
